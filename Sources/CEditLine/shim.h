#ifndef KE_CEDITLINE_SHIM_H
#define KE_CEDITLINE_SHIM_H
// libedit for Swift. `el_set` and `history` are C-variadic, which Swift cannot call, so every
// use the shell needs is wrapped in a fixed-signature `static inline` function here.
#include <stdio.h>
#include <locale.h>
#include <histedit.h>

/// A user editor function (bound to a key with `ke_el_add_function`): returns a `CC_*` code.
typedef unsigned char (*ke_el_func_t)(EditLine *, int);
/// A prompt function: returns the prompt text (owned by the caller, must stay alive).
typedef char *(*ke_el_prompt_t)(EditLine *);

// MARK: - Editor

/// Creates an editor on stdin/stdout/stderr named `prog` (the name `~/.editrc` sections use).
static inline EditLine *ke_el_init(const char *prog) {
    return el_init(prog, stdin, stdout, stderr);
}
static inline int ke_el_set_prompt(EditLine *el, ke_el_prompt_t fn) {
    return el_set(el, EL_PROMPT, fn);
}
/// `mode` is "emacs" or "vi".
static inline int ke_el_set_editor(EditLine *el, const char *mode) {
    return el_set(el, EL_EDITOR, mode);
}
/// When on, libedit installs its own handlers (tty restore, SIGWINCH) while reading and then
/// forwards the signal to the previously installed handler.
static inline int ke_el_set_signal(EditLine *el, int on) {
    return el_set(el, EL_SIGNAL, on);
}
/// Binds `key` (e.g. "^R", "^I") to the editor function called `function`.
static inline int ke_el_bind(EditLine *el, const char *key, const char *function) {
    return el_set(el, EL_BIND, key, function, (const char *)NULL);
}
/// Ctrl-R: incremental reverse history search.
static inline int ke_el_bind_ctrl_r(EditLine *el) {
    return ke_el_bind(el, "^R", "em-inc-search-prev");
}
/// Registers a user function under `name` (help text `help`).
static inline int ke_el_add_function(EditLine *el, const char *name, const char *help, ke_el_func_t fn) {
    return el_set(el, EL_ADDFN, name, help, fn);
}
/// Registers `fn` as "ke-complete" and binds Tab to it.
static inline int ke_el_set_complete(EditLine *el, ke_el_func_t fn) {
    if (ke_el_add_function(el, "ke-complete", "Complete the word before the cursor", fn) != 0) return -1;
    return ke_el_bind(el, "^I", "ke-complete");
}
/// Attaches a history so the arrow keys and Ctrl-R search it.
static inline int ke_el_set_history(EditLine *el, History *h) {
    return el_set(el, EL_HIST, history, h);
}
/// Replaces the function that reads one character (`fn` returns 1 with a character, 0 at end of
/// input, -1 on error or interrupt).
static inline int ke_el_set_getc(EditLine *el, int (*fn)(EditLine *, wchar_t *)) {
    return el_set(el, EL_GETCFN, fn);
}
/// Reads `~/.editrc` (or $EDITRC) so users keep their own bindings.
static inline int ke_el_source_default(EditLine *el) {
    return el_source(el, NULL);
}

// MARK: - History

static inline int ke_history_setsize(History *h, int size) {
    HistEvent ev;
    return history(h, &ev, H_SETSIZE, size);
}
/// Drops an entry equal to the previous one.
static inline int ke_history_setunique(History *h, int on) {
    HistEvent ev;
    return history(h, &ev, H_SETUNIQUE, on);
}
static inline int ke_history_enter(History *h, const char *line) {
    HistEvent ev;
    return history(h, &ev, H_ENTER, line);
}
static inline int ke_history_load(History *h, const char *path) {
    HistEvent ev;
    return history(h, &ev, H_LOAD, path);
}
static inline int ke_history_save(History *h, const char *path) {
    HistEvent ev;
    return history(h, &ev, H_SAVE, path);
}
static inline int ke_history_count(History *h) {
    HistEvent ev;
    if (history(h, &ev, H_GETSIZE) < 0) return 0;
    return ev.num;
}

#endif
