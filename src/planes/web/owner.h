/* The owner's page: what a console of a device with the owner right may
 * see and do (docs/protocol.md, "Owner"; docs/security.md). Every request
 * is checked against the device store when it arrives and carried out by
 * the same core functions as the 'funkhaus' commands. */
#pragma once

#include "planes/web/client.h"
#include "planes/web/plane.h"

/* A console just proved @client's device: an owner hears that it is one;
 * anyone else hears nothing. */
void fh_web_owner_greet (FhWebPlane *plane, FhClient *client);

/* An owner message from @client. One from anything but the console of a
 * device that holds the owner right now closes @client (unauthorized);
 * nothing else is touched. */
void fh_web_owner_handle (FhWebPlane *plane, FhClient *client, const FhClientMessage *msg);
