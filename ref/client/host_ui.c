#include "host_ui.h"

#include <stdlib.h>
#include <string.h>

#include "../core/message.h"
#include "../core/psrp_msgs.h"

static const etsn_value *param(const etsn_value *params, size_t i)
{
    return params && i < params->n_items ? params->items[i] : NULL;
}

static const char *param_str(const etsn_value *params, size_t i)
{
    const etsn_value *v = param(params, i);
    const char *s = v ? etsn_v_as_str(v) : NULL;
    return s ? s : "";
}

static void write_text(FILE *f, const char *s, bool newline)
{
    fputs(s, f);
    if (newline) fputc('\n', f);
}

static void write_prefixed(FILE *f, const char *prefix, const char *s)
{
    fprintf(f, "%s%s\n", prefix, s);
}

bool etsn_host_ui_call(etsn_host_ui *ui, int method, const etsn_value *params, etsn_value **result,
                       etsn_value **error)
{
    *result = NULL;
    *error = NULL;
    switch (method) {
    case 6: { /* SetShouldExit(int) */
        int64_t code = 0;
        const etsn_value *v = param(params, 0);
        if (v) etsn_v_as_i64(v, &code);
        ui->exit_requested = true;
        ui->exit_code = (int)code;
        return true;
    }
    case 11: { /* ReadLine */
        char *line = ui->read_line ? ui->read_line(ui->read_line_ctx, "") : NULL;
        *result = etsn_v_string(line ? line : "");
        free(line);
        return true;
    }
    case 13:
        write_text(ui->out, param_str(params, 0), false);
        break; /* Write1 */
    case 14:
        write_text(ui->out, param_str(params, 2), false);
        break; /* Write2 */
    case 15:
        write_text(ui->out, "", true);
        break; /* WriteLine1 */
    case 16:
        write_text(ui->out, param_str(params, 0), true);
        break; /* WriteLine2 */
    case 17:
        write_text(ui->out, param_str(params, 2), true);
        break; /* WriteLine3 */
    case 18:
        write_text(ui->err, param_str(params, 0), true);
        break; /* WriteErrorLine */
    case 19:
        write_prefixed(ui->out, "DEBUG: ", param_str(params, 0));
        break;
    case 20:
        break; /* WriteProgress: nothing on a non-terminal */
    case 21:
        write_prefixed(ui->out, "VERBOSE: ", param_str(params, 0));
        break;
    case 22:
        write_prefixed(ui->out, "WARNING: ", param_str(params, 0));
        break;
    case 53:
        ui->pop_requested = true;
        break; /* PopRunspace */
    case 28:
    case 30:
    case 32:
    case 34:
    case 36:
    case 38:
    case 40:
    case 42:
        break; /* RawUI setters: the console keeps its own state */
    default:
        return false;
    }
    return true;
}

void etsn_host_ui_record(etsn_host_ui *ui, uint32_t message_type, const etsn_value *record)
{
    const char *text = NULL;
    const char *prefix = "";
    FILE *f = ui->out;
    switch (message_type) {
    case ETSN_MSG_ERROR_RECORD: {
        etsn_error_record rec;
        etsn_error_record_read(record, &rec);
        fprintf(ui->err, "%s\n", rec.message ? rec.message : "");
        if (rec.category_name)
            fprintf(ui->err, "    + CategoryInfo          : %s\n", rec.category_name);
        if (rec.fqid) fprintf(ui->err, "    + FullyQualifiedErrorId : %s\n", rec.fqid);
        return;
    }
    case ETSN_MSG_WARNING_RECORD:
        prefix = "WARNING: ";
        break;
    case ETSN_MSG_VERBOSE_RECORD:
        prefix = "VERBOSE: ";
        break;
    case ETSN_MSG_DEBUG_RECORD:
        prefix = "DEBUG: ";
        break;
    case ETSN_MSG_PROGRESS_RECORD:
        return;
    default:
        break;
    }
    const etsn_value *msg = etsn_v_get(record, "InformationalRecord_Message");
    if (!msg) msg = etsn_v_get(record, "MessageData");
    text = msg ? etsn_v_as_str(msg) : etsn_v_as_str(record);
    fprintf(f, "%s%s\n", prefix, text ? text : "");
}

etsn_value *etsn_host_ui_not_implemented(int method)
{
    etsn_error_record rec = {
        .message = "A command that prompts the user failed because the host program or the "
                   "command type does not support user interaction.",
        .exception_type = "System.Management.Automation.Host.HostException",
        .fqid = "HostFunctionNotImplemented",
        .category = 0,
        .category_name = "NotImplemented",
        .activity = etsn_host_method_name(method),
    };
    return etsn_msg_error_record(&rec, NULL);
}
