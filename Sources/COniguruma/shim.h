#include <oniguruma.h>

/* Oniguruma's encoding and syntax objects are reached through macros Swift cannot import. */
static inline OnigEncoding ke_onig_utf8(void) { return ONIG_ENCODING_UTF8; }
static inline OnigSyntaxType *ke_onig_default_syntax(void) { return ONIG_SYNTAX_DEFAULT; }

/* onig_error_code_to_str is variadic, which Swift cannot call. */
static inline int ke_onig_error_string(unsigned char *buf, int code, OnigErrorInfo *info) {
    return info ? onig_error_code_to_str(buf, code, info) : onig_error_code_to_str(buf, code);
}
