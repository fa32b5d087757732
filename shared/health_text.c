/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: text from outside made safe to store (see health_text.h).
 */

#include <string.h>

#include "health_text.h"


/*
 * The length of the valid character at s[0..len), 0 when the bytes there
 * are not one; *partial is set when they are a valid start that len cut.
 */
static size_t
health_text_char(const unsigned char *s, size_t len, int *partial)
{
    size_t         n, i;
    unsigned char  lo, hi;

    *partial = 0;

    if (s[0] < 0x80) {
        return 1;
    }

    /* the second byte's range depends on the first (RFC 3629, Table 3-7
     * of the Unicode standard): no overlongs, surrogates or > U+10FFFF */
    lo = 0x80;
    hi = 0xbf;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;

    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;

        if (s[0] == 0xe0) {
            lo = 0xa0;

        } else if (s[0] == 0xed) {
            hi = 0x9f;
        }

    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;

        if (s[0] == 0xf0) {
            lo = 0x90;

        } else if (s[0] == 0xf4) {
            hi = 0x8f;
        }

    } else {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if (i == len) {
            *partial = 1;
            return 0;
        }

        if (s[i] < lo || s[i] > hi) {
            return 0;
        }

        lo = 0x80;
        hi = 0xbf;
    }

    return n;
}


size_t
health_text_sanitize(char *dst, size_t size, const char *src, size_t len,
    unsigned flags, int *truncated)
{
    int                   partial;
    size_t                n, out, skip;
    unsigned char         c;
    const unsigned char  *s, *end;

    static const char  replacement[] = "\xef\xbf\xbd";   /* U+FFFD */

    s = (const unsigned char *) src;
    end = s + len;
    out = 0;

    if (truncated) {
        *truncated = 0;
    }

    while (s < end) {
        n = health_text_char(s, end - s, &partial);

        if (n == 0 && partial && (flags & HEALTH_TEXT_CUT_INPUT)) {
            /* the character the input's own cut split */
            break;
        }

        if (n == 0) {
            /* one U+FFFD for the invalid byte and the continuation
             * bytes that follow it */
            for (skip = 1; s + skip < end && skip < 4
                           && (s[skip] & 0xc0) == 0x80; skip++)
            {
                /* void */
            }

            if (size - out < 3) {
                goto cut;
            }

            memcpy(dst + out, replacement, 3);
            out += 3;
            s += skip;
            continue;
        }

        if (size - out < n) {
            goto cut;
        }

        if (flags & HEALTH_TEXT_LINE) {
            c = s[0];

            if (c < 0x20 || c == 0x7f
                || (n == 2 && c == 0xc2 && s[1] < 0xa0))
            {
                dst[out++] = ' ';
                s += n;
                continue;
            }
        }

        memcpy(dst + out, s, n);
        out += n;
        s += n;
    }

    return out;

cut:

    if (truncated) {
        *truncated = 1;
    }

    return out;
}


size_t
health_text_valid_prefix(const char *src, size_t len)
{
    int                   partial;
    size_t                n;
    const unsigned char  *s, *end;

    s = (const unsigned char *) src;
    end = s + len;

    while (s < end) {
        n = health_text_char(s, end - s, &partial);

        if (n == 0) {
            break;
        }

        s += n;
    }

    return (const char *) s - src;
}


size_t
health_text_char_len(const char *src, size_t len)
{
    int  partial;

    if (len == 0) {
        return 0;
    }

    return health_text_char((const unsigned char *) src, len, &partial);
}
