/*
 * Copyright (C) 2026 nginx-health authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx-health: text from outside made safe to store.
 *
 * Error messages of libpq and hiredis, Redis replies and the fields of a
 * health_report() answer come from servers that may be misconfigured or
 * hostile.  Before such text is kept it is made valid UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), an invalid
 * sequence becoming U+FFFD, and cut at a byte limit on a character
 * boundary, so that a JSON encoder never refuses it and a cut never splits
 * a character.
 */

#ifndef HEALTH_TEXT_H
#define HEALTH_TEXT_H

#include <stddef.h>

/* control characters (C0, DEL, C1) become spaces: one line of text */
#define HEALTH_TEXT_LINE       0x01

/*
 * The input itself was cut at a byte limit: an incomplete but so far valid
 * character at its very end is dropped instead of replaced.
 */
#define HEALTH_TEXT_CUT_INPUT  0x02

/*
 * Write at most "size" bytes of valid UTF-8 made from src[0..len) to dst
 * (no terminating NUL is added) and return the number written.
 * *truncated (may be NULL) is set to 1 when not all of src fitted.
 * dst and src must not overlap.
 */
size_t health_text_sanitize(char *dst, size_t size, const char *src,
    size_t len, unsigned flags, int *truncated);

/*
 * The length of the longest valid UTF-8 sequence at the start of src (the
 * whole of len when it is valid).
 */
size_t health_text_valid_prefix(const char *src, size_t len);

/*
 * The length of the one valid UTF-8 character at the start of src, 0 when
 * src[0..len) does not start with one.
 */
size_t health_text_char_len(const char *src, size_t len);

#endif /* HEALTH_TEXT_H */
