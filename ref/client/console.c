#include "console.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* pwsh redraws the pane at most every 200 ms, and always for a Completed
 * record (ConsoleHostUserInterfaceProgress.cs UpdateTimerThreshold). */
enum { PROGRESS_REDRAW_MS = 200 };

etsn_console *etsn_console_get(etsn_host_ui *ui)
{
    if (!ui->priv) {
        etsn_console *c = calloc(1, sizeof *c);
        if (!c) return NULL;
        c->fg = c->default_fg = ETSN_CC_GRAY;
        c->bg = c->default_bg = ETSN_CC_BLACK;
        ui->priv = c;
    }
    return ui->priv;
}

void etsn_console_free(etsn_host_ui *ui)
{
    etsn_console *c = ui->priv;
    if (!c) return;
    etsn_progress_free(c->progress);
    for (int i = 0; i < 3; i++) free(c->shown_record[i]);
    free(c);
    ui->priv = NULL;
}

int etsn_console_width(etsn_host_ui *ui)
{
    struct winsize ws;
    if (ui->out && isatty(fileno(ui->out)) && ioctl(fileno(ui->out), TIOCGWINSZ, &ws) == 0 &&
        ws.ws_col)
        return ws.ws_col;
    const char *cols = getenv("COLUMNS");
    int n = cols ? atoi(cols) : 0;
    return n > 0 ? n : 120;
}

static int screen_rows(etsn_host_ui *ui)
{
    struct winsize ws;
    if (ui->out && ioctl(fileno(ui->out), TIOCGWINSZ, &ws) == 0 && ws.ws_row) return ws.ws_row;
    return 24;
}

/* ---- plain text (StringDecorated.AnsiRegex) ---- */

/* Length of a sequence PowerShell strips at s, or 0: SGR ESC[n;...m,
 * ESC[?nh / ESC[?nl, and OSC 8 hyperlinks ESC]8;;...ESC\. */
static size_t decoration_len(const char *s)
{
    if (s[0] != '\x1b') return 0;
    if (s[1] == '[') {
        size_t i = 2;
        if (s[i] == '?') {
            size_t d = ++i;
            while (s[i] >= '0' && s[i] <= '9') i++;
            return i > d && (s[i] == 'h' || s[i] == 'l') ? i + 1 : 0;
        }
        while (s[i] >= '0' && s[i] <= '9') i++;
        while (s[i] == ';') {
            size_t d = ++i;
            while (s[i] >= '0' && s[i] <= '9') i++;
            if (i == d) return 0;
        }
        return s[i] == 'm' ? i + 1 : 0;
    }
    if (strncmp(s, "\x1b]8;;", 5) == 0) {
        const char *end = strstr(s + 5, "\x1b\\");
        return end ? (size_t)(end - s) + 2 : 0;
    }
    return 0;
}

void etsn_console_strip(const char *text, etsn_buf *out)
{
    for (const char *s = text; s && *s;) {
        size_t n = decoration_len(s);
        if (n) {
            s += n;
            continue;
        }
        etsn_buf_append_byte(out, (uint8_t)*s++);
    }
}

/* ---- colours ---- */

/* ConsoleColor to the ANSI colour .NET's terminfo mapping uses: the dark
 * colours are 30-37, the bright ones 90-97. */
static int ansi_fg(int cc)
{
    static const int map[16] = {30, 34, 32, 36, 31, 35, 33, 37, 90, 94, 92, 96, 91, 95, 93, 97};
    return cc >= 0 && cc < 16 ? map[cc] : -1;
}

static void track_column(etsn_console *c, const char *plain, bool newline)
{
    if (!c) return;
    const char *nl = strrchr(plain, '\n');
    if (nl)
        c->col = etsn_text_cells(nl + 1);
    else
        c->col += etsn_text_cells(plain);
    if (newline) c->col = 0;
}

static bool is_screen(etsn_host_ui *ui, FILE *f)
{
    return ui->terminal && (f == ui->out || f == ui->err);
}

static void emit(etsn_host_ui *ui, FILE *f, const char *sgr, const char *text, bool newline)
{
    etsn_console *c = etsn_console_get(ui);
    bool screen = is_screen(ui, f);
    if (screen) etsn_console_hide_progress(ui);
    etsn_buf plain = ETSN_BUF_INIT;
    etsn_console_strip(text ? text : "", &plain);
    const char *p = plain.data ? (const char *)plain.data : "";
    if (ui->color && sgr && *sgr && text && *text)
        fprintf(f, "%s%s%s", sgr, text, ETSN_STYLE_RESET);
    else if (ui->color)
        fputs(text ? text : "", f);
    else
        fputs(p, f);
    if (newline) fputc('\n', f);
    fflush(f);
    if (screen) track_column(c, p, newline);
    etsn_buf_free(&plain);
    if (screen) etsn_console_show_progress(ui);
}

void etsn_console_write(etsn_host_ui *ui, FILE *f, int fg, int bg, const char *text, bool newline)
{
    etsn_console *c = etsn_console_get(ui);
    char sgr[32] = "";
    if (c && ui->color) {
        int efg = fg < 0 ? c->fg : fg, ebg = bg < 0 ? c->bg : bg;
        int a = efg != c->default_fg ? ansi_fg(efg) : -1;
        int b = ebg != c->default_bg ? ansi_fg(ebg) : -1;
        if (a >= 0 && b >= 0)
            snprintf(sgr, sizeof sgr, "\x1b[%d;%dm", a, b + 10);
        else if (a >= 0)
            snprintf(sgr, sizeof sgr, "\x1b[%dm", a);
        else if (b >= 0)
            snprintf(sgr, sizeof sgr, "\x1b[%dm", b + 10);
    }
    emit(ui, f, sgr, text, newline);
}

void etsn_console_write_styled(etsn_host_ui *ui, FILE *f, const char *style, const char *text,
                               bool newline)
{
    emit(ui, f, style, text, newline);
}

void etsn_console_control(etsn_host_ui *ui, const char *seq)
{
    if (!ui->terminal || !seq) return;
    fputs(seq, ui->out);
    fflush(ui->out);
}

/* ---- progress pane (ProgressPane.cs, minimal view) ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void etsn_console_hide_progress(etsn_host_ui *ui)
{
    etsn_console *c = ui->priv;
    if (!c || !c->shown) return;
    /* The pane always sits below the cursor: erasing to the end of the
     * screen takes it down, whatever scrolled meanwhile. */
    fputs("\x1b[J", ui->out);
    fflush(ui->out);
    c->shown = false;
}

/* pwsh draws the pane on the cursor's line, or the next one when the
 * cursor is not at the left edge, then puts the cursor back. Relative
 * moves keep that right when drawing scrolls the screen. */
void etsn_console_show_progress(etsn_host_ui *ui)
{
    etsn_console *c = ui->priv;
    if (!c || !ui->terminal || etsn_progress_empty(c->progress)) return;
    int rows = screen_rows(ui);
    size_t max_lines = (size_t)(rows / 3 > 5 ? rows / 3 : 5);
    etsn_buf lines = ETSN_BUF_INIT;
    size_t n =
        etsn_progress_render(c->progress, etsn_console_width(ui), max_lines, ui->color, &lines);
    if (c->shown) etsn_console_hide_progress(ui);
    if (n == 0) {
        etsn_buf_free(&lines);
        return;
    }
    etsn_buf seq = ETSN_BUF_INIT;
    etsn_buf_append_str(&seq, "\x1b[?25l");
    if (c->col > 0) etsn_buf_append_byte(&seq, '\n');
    const char *l = (const char *)lines.data;
    for (size_t i = 0; i < n; i++) {
        etsn_buf_printf(&seq, "\r%s\x1b[K%s", l, i + 1 < n ? "\n" : "");
        l += strlen(l) + 1;
    }
    int up = (c->col > 0 ? 1 : 0) + (int)n - 1;
    if (up > 0) etsn_buf_printf(&seq, "\x1b[%dA", up);
    etsn_buf_append_byte(&seq, '\r');
    if (c->col > 0) etsn_buf_printf(&seq, "\x1b[%dC", c->col);
    etsn_buf_append_str(&seq, "\x1b[?25h");
    fwrite(seq.data, 1, seq.len, ui->out);
    fflush(ui->out);
    c->shown = true;
    c->shown_lines = (int)n;
    c->last_draw_ms = now_ms();
    etsn_buf_free(&seq);
    etsn_buf_free(&lines);
}

void etsn_console_progress(etsn_host_ui *ui, int64_t source_id, const etsn_progress_record *rec)
{
    /* Nothing at all when the output is not a terminal, as pwsh does when
     * stdout is redirected. */
    if (!ui->terminal) return;
    etsn_console *c = etsn_console_get(ui);
    if (!c) return;
    if (!c->progress && !(c->progress = etsn_progress_new())) return;
    etsn_progress_update(c->progress, source_id, rec);
    if (etsn_progress_empty(c->progress)) {
        etsn_console_hide_progress(ui);
        return;
    }
    if (!c->shown || rec->completed || now_ms() - c->last_draw_ms >= PROGRESS_REDRAW_MS)
        etsn_console_show_progress(ui);
}

void etsn_console_reset_progress(etsn_host_ui *ui)
{
    etsn_console *c = ui->priv;
    if (!c) return;
    etsn_console_hide_progress(ui);
    etsn_progress_clear(c->progress);
}

/* ---- input ---- */

/* A line straight from in_fd when the session gave no line editor. */
static char *fd_line(etsn_host_ui *ui, const char *prompt)
{
    fputs(prompt, ui->out);
    fflush(ui->out);
    etsn_buf b = ETSN_BUF_INIT;
    bool any = false;
    for (;;) {
        char ch;
        ssize_t r = read(ui->in_fd, &ch, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        any = true;
        if (ch == '\n') break;
        etsn_buf_append_byte(&b, (uint8_t)ch);
    }
    if (!any) {
        etsn_buf_free(&b);
        return NULL;
    }
    if (b.len && b.data[b.len - 1] == '\r') b.data[--b.len] = 0;
    return b.data ? etsn_buf_steal(&b) : strdup("");
}

char *etsn_console_read_line(etsn_host_ui *ui, const char *prompt)
{
    etsn_console_hide_progress(ui);
    fflush(ui->out);
    char *line = ui->read_line ? ui->read_line(ui->read_line_ctx, prompt) : fd_line(ui, prompt);
    etsn_console *c = ui->priv;
    if (c) c->col = 0;
    etsn_console_show_progress(ui);
    return line;
}

/* Raw terminal mode for one read, undone on every path; a SIGINT arriving
 * meanwhile (ISIG is off, so only a kill) ends the read instead of leaving
 * the terminal without echo. */
static volatile sig_atomic_t g_sigint;
static void on_sigint(int sig)
{
    (void)sig;
    g_sigint = 1;
}

typedef struct {
    bool active;
    struct termios saved;
    struct sigaction old_int;
} raw_mode;

static void raw_enter(etsn_host_ui *ui, raw_mode *m)
{
    m->active = false;
    if (!ui->terminal || tcgetattr(ui->in_fd, &m->saved) != 0) return;
    struct termios t = m->saved;
    t.c_lflag &= ~(tcflag_t)(ECHO | ICANON | ISIG | IEXTEN);
    t.c_iflag &= ~(tcflag_t)(IXON | ICRNL | INLCR);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint; /* no SA_RESTART: read() returns EINTR */
    sigemptyset(&sa.sa_mask);
    g_sigint = 0;
    sigaction(SIGINT, &sa, &m->old_int);
    if (tcsetattr(ui->in_fd, TCSANOW, &t) != 0) {
        sigaction(SIGINT, &m->old_int, NULL);
        return;
    }
    m->active = true;
}

static void raw_leave(etsn_host_ui *ui, raw_mode *m)
{
    if (!m->active) return;
    tcsetattr(ui->in_fd, TCSANOW, &m->saved);
    sigaction(SIGINT, &m->old_int, NULL);
    m->active = false;
}

/* One byte: 1, 0 at end of input, -2 interrupted by SIGINT, -1 error. */
static int read_byte(etsn_host_ui *ui, unsigned char *ch)
{
    for (;;) {
        ssize_t r = read(ui->in_fd, ch, 1);
        if (r == 1) return 1;
        if (r == 0) return 0;
        if (errno != EINTR) return -1;
        if (g_sigint) return -2;
    }
}

/* Whether another byte follows within ms (the rest of an escape sequence). */
static bool byte_pending(etsn_host_ui *ui, int ms)
{
    struct pollfd p = {.fd = ui->in_fd, .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

/* Appends to a secret buffer without leaving copies behind: growing moves
 * the bytes to a new block and zeroes the old one. */
static int secret_push(etsn_buf *b, uint8_t ch)
{
    if (b->len + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 128;
        uint8_t *n = malloc(cap);
        if (!n) return -1;
        if (b->len) memcpy(n, b->data, b->len);
        if (b->data) {
            etsn_secure_zero(b->data, b->cap);
            free(b->data);
        }
        b->data = n;
        b->cap = cap;
    }
    b->data[b->len++] = ch;
    b->data[b->len] = 0;
    return 0;
}

static void skip_escape(etsn_host_ui *ui)
{
    unsigned char ch;
    if (!byte_pending(ui, 50) || read_byte(ui, &ch) != 1) return;
    if (ch != '[' && ch != 'O') return;
    while (byte_pending(ui, 50) && read_byte(ui, &ch) == 1)
        if (ch >= 0x40 && ch <= 0x7e) return;
}

int etsn_console_read_secret(etsn_host_ui *ui, etsn_buf *out)
{
    etsn_console_hide_progress(ui);
    fflush(ui->out);
    raw_mode m;
    raw_enter(ui, &m);
    bool any = false;
    int rc = ETSN_READ_OK;
    for (;;) {
        unsigned char ch;
        int r = read_byte(ui, &ch);
        if (r == -2) {
            rc = ETSN_READ_INTERRUPTED;
            break;
        }
        if (r <= 0) {
            if (!any) rc = r == 0 ? ETSN_READ_EOF : ETSN_READ_ERROR;
            break;
        }
        any = true;
        if (!m.active) { /* not a terminal: a plain line, never echoed */
            if (ch == '\n') break;
            if (secret_push(out, ch) < 0) {
                rc = ETSN_READ_ERROR;
                break;
            }
            continue;
        }
        if (ch == 3) { /* Ctrl+C: PipelineStoppedException in pwsh */
            rc = ETSN_READ_INTERRUPTED;
            break;
        }
        if (ch == '\r' || ch == '\n') break;
        if (ch == 0x7f || ch == 8) {
            if (out->len) {
                /* Drop one whole UTF-8 character and its '*'. */
                do out->data[--out->len] = 0;
                while (out->len && (out->data[out->len] & 0xc0) == 0x80);
                fputs("\b \b", ui->out);
                fflush(ui->out);
            }
            continue;
        }
        if (ch == 0x1b) {
            skip_escape(ui);
            continue;
        }
        if (ch < 0x20) continue; /* other control characters are refused */
        if (secret_push(out, ch) < 0) {
            rc = ETSN_READ_ERROR;
            break;
        }
        if ((ch & 0xc0) != 0x80) {
            fputc('*', ui->out);
            fflush(ui->out);
        }
    }
    raw_leave(ui, &m);
    if (rc == ETSN_READ_OK && out->len && out->data[out->len - 1] == '\r')
        out->data[--out->len] = 0;
    if (rc != ETSN_READ_EOF) {
        fputc('\n', ui->out);
        fflush(ui->out);
    }
    etsn_console *c = ui->priv;
    if (c) c->col = 0;
    etsn_console_show_progress(ui);
    return rc;
}

/* ---- keys (ReadKey) ---- */

enum { SHIFT = 0x10, LEFT_CTRL = 0x08, LEFT_ALT = 0x02, ENHANCED = 0x100 };

/* A US keyboard: which key makes a character, and whether Shift is down. */
static void key_for_ascii(unsigned char ch, etsn_key *k)
{
    static const char *const pairs[] = {";:", "=+", ",<",  "-_", ".>", "/?",
                                        "`~", "[{", "\\|", "]}", "'\""};
    static const int codes[] = {186, 187, 188, 189, 190, 191, 192, 219, 220, 221, 222};
    static const char shifted_digits[] = ")!@#$%^&*(";
    k->character = ch;
    if (ch >= 'a' && ch <= 'z') {
        k->virtual_key_code = ch - 32;
    } else if (ch >= 'A' && ch <= 'Z') {
        k->virtual_key_code = ch;
        k->control_key_state |= SHIFT;
    } else if (ch >= '0' && ch <= '9') {
        k->virtual_key_code = ch;
    } else if (ch == ' ') {
        k->virtual_key_code = 32;
    } else if (ch == '\r' || ch == '\n') {
        k->virtual_key_code = 13;
        k->character = 13;
    } else if (ch == '\t') {
        k->virtual_key_code = 9;
    } else if (ch == 0x7f || ch == 8) {
        k->virtual_key_code = 8;
        k->character = 8;
    } else if (ch == 0x1b) {
        k->virtual_key_code = 27;
    } else if (ch == 0) {
        k->virtual_key_code = 32;
        k->control_key_state |= LEFT_CTRL;
    } else if (ch < 0x20) {
        k->virtual_key_code = 'A' + ch - 1;
        k->control_key_state |= LEFT_CTRL;
    } else {
        const char *d = strchr(shifted_digits, ch);
        if (d) {
            k->virtual_key_code = '0' + (int)(d - shifted_digits);
            k->control_key_state |= SHIFT;
            return;
        }
        for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
            if (pairs[i][0] == ch || pairs[i][1] == ch) {
                k->virtual_key_code = codes[i];
                if (pairs[i][1] == ch) k->control_key_state |= SHIFT;
                return;
            }
    }
}

/* The key an escape sequence (CSI or SS3) stands for. */
static void key_for_escape(etsn_host_ui *ui, unsigned char intro, etsn_key *k)
{
    char seq[16];
    size_t n = 0;
    unsigned char ch = 0;
    while (n + 1 < sizeof seq && byte_pending(ui, 50) && read_byte(ui, &ch) == 1) {
        seq[n++] = (char)ch;
        if (ch >= 0x40 && ch <= 0x7e) break;
    }
    seq[n] = 0;
    k->character = 0;
    k->control_key_state |= ENHANCED;
    char fin = n ? seq[n - 1] : 0;
    static const struct {
        char fin;
        int vk;
    } finals[] = {{'A', 38}, {'B', 40},  {'C', 39},  {'D', 37},  {'H', 36},
                  {'F', 35}, {'P', 112}, {'Q', 113}, {'R', 114}, {'S', 115}};
    for (size_t i = 0; i < sizeof finals / sizeof finals[0]; i++)
        if (fin == finals[i].fin) {
            k->virtual_key_code = finals[i].vk;
            return;
        }
    if (intro == '[' && fin == '~') {
        int num = atoi(seq);
        static const struct {
            int num, vk;
        } tilde[] = {{1, 36},   {2, 45},   {3, 46},   {4, 35},   {5, 33},   {6, 34},   {7, 36},
                     {8, 35},   {11, 112}, {12, 113}, {13, 114}, {14, 115}, {15, 116}, {17, 117},
                     {18, 118}, {19, 119}, {20, 120}, {21, 121}, {23, 122}, {24, 123}};
        for (size_t i = 0; i < sizeof tilde / sizeof tilde[0]; i++)
            if (tilde[i].num == num) {
                k->virtual_key_code = tilde[i].vk;
                return;
            }
    }
}

int etsn_console_read_key(etsn_host_ui *ui, int options, etsn_key *k)
{
    memset(k, 0, sizeof *k);
    etsn_console_hide_progress(ui);
    fflush(ui->out);
    raw_mode m;
    raw_enter(ui, &m);
    unsigned char ch;
    int rc = ETSN_READ_OK;
    int r = read_byte(ui, &ch);
    if (r == -2) {
        rc = ETSN_READ_INTERRUPTED;
    } else if (r <= 0) {
        rc = r == 0 ? ETSN_READ_EOF : ETSN_READ_ERROR;
    } else if (ch == 3 && !(options & 1)) { /* Ctrl+C without AllowCtrlC */
        rc = ETSN_READ_INTERRUPTED;
    } else if (ch == 0x1b && m.active && byte_pending(ui, 50)) {
        unsigned char next;
        if (read_byte(ui, &next) == 1) {
            if (next == '[' || next == 'O') {
                key_for_escape(ui, next, k);
            } else { /* ESC x: Alt+x */
                key_for_ascii(next, k);
                k->control_key_state |= LEFT_ALT;
            }
        }
    } else if (ch >= 0x80) {
        /* A UTF-8 character: no virtual key on a US keyboard. */
        unsigned char buf[4] = {ch};
        size_t need = (ch >> 5) == 6 ? 2 : (ch >> 4) == 14 ? 3 : (ch >> 3) == 30 ? 4 : 1;
        size_t got = 1;
        while (got < need && read_byte(ui, &buf[got]) == 1) got++;
        uint32_t cp = need == 2 ? buf[0] & 0x1f : need == 3 ? buf[0] & 0x0f : buf[0] & 0x07;
        for (size_t i = 1; i < got; i++) cp = (cp << 6) | (buf[i] & 0x3f);
        k->character = cp <= 0xffff ? cp : 0xfffd;
        if (!(options & 2) && got == need) {
            fwrite(buf, 1, got, ui->out);
            fflush(ui->out);
        }
    } else {
        key_for_ascii(ch, k);
        if (!(options & 2) && ch >= 0x20 && ch != 0x7f) {
            fputc(ch, ui->out);
            fflush(ui->out);
        }
    }
    raw_leave(ui, &m);
    etsn_console_show_progress(ui);
    return rc;
}
