#include "input.h"

#include <stdlib.h>

int mock_input_add(mock_input *in, etsn_value *v, size_t len)
{
    if (in->n >= MOCK_INPUT_MAX || len > MOCK_INPUT_MAX_BYTES - in->bytes) {
        etsn_v_free(v);
        return -1;
    }
    etsn_value **items = realloc(in->items, (in->n + 1) * sizeof *items);
    if (!items) {
        etsn_v_free(v);
        return -1;
    }
    in->items = items;
    in->items[in->n++] = v;
    in->bytes += len;
    return 0;
}

void mock_input_free(mock_input *in)
{
    for (size_t i = 0; i < in->n; i++) etsn_v_free(in->items[i]);
    free(in->items);
    in->items = NULL;
    in->n = in->sent = in->bytes = 0;
}
