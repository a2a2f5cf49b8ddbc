/* The runspace pool's own requests (MS-PSRP 2.2.2.8-2.2.2.12, 2.2.2.20):
 * SET_MAX_RUNSPACES, SET_MIN_RUNSPACES, GET_AVAILABLE_RUNSPACES and
 * RESET_RUNSPACE_STATE, answered with RUNSPACE_AVAILABILITY as Windows
 * PowerShell's ServerRunspacePoolDriver does. No I/O, no locking: the engine
 * calls these under its lock. */
#ifndef ETSN_MOCK_POOL_H
#define ETSN_MOCK_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "../ref/core/clixml.h"

typedef struct {
    int32_t min_runspaces; /* from INIT_RUNSPACEPOOL, changed by SET_MIN_RUNSPACES */
    int32_t max_runspaces; /* from INIT_RUNSPACEPOOL, changed by SET_MAX_RUNSPACES */
    bool ran_pipeline;     /* a pipeline has run: there is a runspace to reset */
} mock_pool;

/* Takes MinRunspaces/MaxRunspaces from INIT_RUNSPACEPOOL's body (1 and 1 when
 * absent or not numbers). */
void mock_pool_init(mock_pool *p, const etsn_value *init);

/* The RUNSPACE_AVAILABILITY body answering one of the four pool requests
 * (type is its message type, req its parsed body, in_use the runspaces busy
 * now): {SetMinMaxRunspacesResponse, ci} with the request's call id (read
 * case-insensitively: pypsrp writes "CI"). SET_MAX/SET_MIN answer a Boolean
 * and change the pool only when PowerShell would (RunspacePoolInternal:
 * max >= min; 1 <= min <= max); GET_AVAILABLE answers the Int32 max - in_use;
 * RESET answers true only when a pipeline has run and max is 1
 * (ServerRunspacePoolDriver.ResetRunspaceState). *ci gets the call id.
 * NULL when out of memory or type is none of the four. */
etsn_value *mock_pool_answer(mock_pool *p, uint32_t type, const etsn_value *req, int32_t in_use,
                             int64_t *ci);

/* {SetMinMaxRunspacesResponse: resp, ci}: the body of RUNSPACE_AVAILABILITY.
 * Takes resp (freed on failure); NULL when out of memory. */
etsn_value *mock_pool_reply(etsn_value *resp, int64_t ci);

#endif
