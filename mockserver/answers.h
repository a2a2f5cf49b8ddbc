/* A host call's answer compared by meaning with what the fixture expects
 * (docs/fixtures.md, "Answers are compared by meaning"): strings as they
 * are, numbers in decimal, SecureStrings decrypted with the session key,
 * lists joined with ",", Prompt dictionaries field by field, PSCredentials by
 * user and password. No I/O. */
#ifndef ETSN_MOCK_ANSWERS_H
#define ETSN_MOCK_ANSWERS_H

#include <stdbool.h>

#include "../ref/core/buf.h"
#include "../ref/core/clixml.h"
#include "../ref/core/psrp_crypto.h"
#include "fixture.h"

typedef struct {
    bool pwsh;                  /* protocol 2.4: SecureStrings are plain UTF-16LE */
    const etsn_psrp_keys *keys; /* the shell's session key (2.3), or NULL */
} mock_answer_ctx;

/* Whether the PIPELINE_HOST_RESPONSE's mr (result) / me (exception) is what
 * the host-call step s expects. got receives what arrived, as text for the
 * report; why the differences. */
bool mock_answer_check(const mock_answer_ctx *x, const fx_step *s, const etsn_value *mr,
                       const etsn_value *me, etsn_buf *got, etsn_buf *why);

#endif
