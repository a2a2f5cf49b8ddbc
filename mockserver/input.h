/* A pipeline's input (MS-PSRP 2.2.2.17 PIPELINE_INPUT, 2.2.2.18
 * END_OF_PIPELINE_INPUT): the objects the client sent, kept in order until
 * an <input/> step hands them on as the pipeline's output, as `$input` does
 * (pypsrp's recording test_psrp_with_input). */
#ifndef ETSN_MOCK_INPUT_H
#define ETSN_MOCK_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "../ref/core/clixml.h"

/* Most input objects, and bytes of their CLIXML, one pipeline keeps; more
 * are refused. */
#define MOCK_INPUT_MAX 100000
#define MOCK_INPUT_MAX_BYTES (64u * 1024 * 1024)

typedef struct {
    etsn_value **items;
    size_t n;     /* received */
    size_t bytes; /* CLIXML bytes of what was kept */
    size_t sent;  /* handed on by <input/> */
    bool ended;   /* END_OF_PIPELINE_INPUT arrived, or the pipeline takes none (NoInput) */
} mock_input;

/* Keeps v (takes ownership), whose CLIXML was len bytes. -1 (v freed) past
 * MOCK_INPUT_MAX or MOCK_INPUT_MAX_BYTES, or out of memory. */
int mock_input_add(mock_input *in, etsn_value *v, size_t len);
void mock_input_free(mock_input *in);

#endif
