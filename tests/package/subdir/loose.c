/* Legal C that zheap's warning set (-Wall -Wextra -Wstrict-prototypes
 * -Wmissing-prototypes ...) flags: it builds only if none of zheap's warning flags or
 * -Werror reach the parent's targets. */
int loose_helper();            /* old-style declaration: -Wstrict-prototypes */
int loose_helper(a) int a; {   /* no prototype in scope: -Wmissing-prototypes */
    int unused;                /* -Wunused-variable */
    return 0;
}
