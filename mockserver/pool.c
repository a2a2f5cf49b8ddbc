#include "pool.h"

#include "../ref/core/message.h"

static int32_t member_i32(const etsn_value *v, const char *name, int32_t dflt)
{
    int64_t n;
    if (!etsn_v_as_i64(etsn_v_get(v, name), &n) || n < INT32_MIN || n > INT32_MAX) return dflt;
    return (int32_t)n;
}

void mock_pool_init(mock_pool *p, const etsn_value *init)
{
    p->min_runspaces = member_i32(init, "MinRunspaces", 1);
    p->max_runspaces = member_i32(init, "MaxRunspaces", 1);
    p->ran_pipeline = false;
}

/* RunspacePoolInternal.SetMaxRunspaces: refused below the minimum. */
static bool set_max(mock_pool *p, int32_t n)
{
    if (n < p->min_runspaces) return false;
    p->max_runspaces = n;
    return true;
}

/* RunspacePoolInternal.SetMinRunspaces: at least 1, at most the maximum. */
static bool set_min(mock_pool *p, int32_t n)
{
    if (n < 1 || n > p->max_runspaces) return false;
    p->min_runspaces = n;
    return true;
}

etsn_value *mock_pool_answer(mock_pool *p, uint32_t type, const etsn_value *req, int32_t in_use,
                             int64_t *ci)
{
    *ci = 0;
    if (!etsn_v_as_i64(etsn_v_get(req, "ci"), ci)) *ci = 0;
    etsn_value *resp;
    switch (type) {
    case ETSN_MSG_SET_MAX_RUNSPACES:
        resp = etsn_v_bool(set_max(p, member_i32(req, "MaxRunspaces", 0)));
        break;
    case ETSN_MSG_SET_MIN_RUNSPACES:
        resp = etsn_v_bool(set_min(p, member_i32(req, "MinRunspaces", 0)));
        break;
    case ETSN_MSG_GET_AVAILABLE_RUNSPACES: {
        /* ServerRunspacePoolDriver sends the int it gets: an <I32>. */
        int32_t avail = p->max_runspaces - in_use;
        resp = etsn_v_i32(avail > 0 ? avail : 0);
        break;
    }
    case ETSN_MSG_RESET_RUNSPACE_STATE:
        resp = etsn_v_bool(p->ran_pipeline && p->max_runspaces == 1);
        break;
    default:
        return NULL;
    }
    return mock_pool_reply(resp, *ci);
}

etsn_value *mock_pool_reply(etsn_value *resp, int64_t ci)
{
    etsn_value *v = etsn_v_obj();
    if (!v || etsn_obj_add_member(v, "SetMinMaxRunspacesResponse", resp) < 0) {
        etsn_v_free(v);
        return NULL;
    }
    if (etsn_obj_add_member(v, "ci", etsn_v_i64(ci)) < 0) {
        etsn_v_free(v);
        return NULL;
    }
    return v;
}
