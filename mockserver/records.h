/* The stream records a server sends (MS-PSRP 2.2.2.21-2.2.2.24): WARNING,
 * VERBOSE and DEBUG records (InformationalRecord) and INFORMATION_RECORD,
 * serialized as PowerShell's ToPSObjectForRemoting writes them. No I/O. */
#ifndef ETSN_MOCK_RECORDS_H
#define ETSN_MOCK_RECORDS_H

#include <stdint.h>

#include "../ref/core/clixml.h"
#include "fixture.h"

/* The command a record was written by, for records that carry it. */
typedef struct {
    const char *script; /* the pipeline's script text (CommandInfo_Definition) */
    int64_t history_id; /* InvocationInfo_HistoryId */
} mock_invocation;

/* A WARNING_RECORD / VERBOSE_RECORD / DEBUG_RECORD body (type says which).
 * With inv, InformationalRecord_SerializeInvocationInfo is true and the
 * InvocationInfo_* members follow (the client's RemoteStreamOptions asked for
 * them); without, it is false and the record is just its message. */
etsn_value *mock_informational_record(uint32_t type, const char *text, const mock_invocation *inv);

/* An INFORMATION_RECORD body for an <information> step: MessageData, Source,
 * TimeGenerated (now), Tags, User (the fixture's first user), Computer,
 * ProcessId, NativeThreadId, ManagedThreadId. */
etsn_value *mock_information_record(const mock_fixture *fx, const fx_step *s);

/* Completes an ErrorRecord built by etsn_msg_error_record the way a server
 * serializes one: the Exception's Props (Data, InnerException, TargetSite,
 * StackTrace, HelpLink, Source, HResult); with inv (an ERROR_RECORD whose
 * pipeline asked for AddInvocationInfoToErrorRecord) SerializeExtendedInfo
 * true, the InvocationInfo_* members, PipelineIterationInfo and
 * ErrorDetails_ScriptStackTrace (pypsrp's recordings
 * test_psrp_stream_{no_,}output_invocation). -1 when out of memory. */
int mock_error_record_extend(etsn_value *rec, const mock_invocation *inv);

/* Gives the record the InvocationInfo object a Windows server sends in a
 * PIPELINE_STATE's ExceptionAsErrorRecord: the command line and its
 * PositionMessage (a <error-record position=>). -1 when out of memory. */
int mock_error_record_invocation(etsn_value *rec, const char *line, const char *position);

#endif
