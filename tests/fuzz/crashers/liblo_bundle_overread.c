/* liblo 0.31: a bundle whose last element has length 0 is read past its end.
 * cc tests/fuzz/crashers/liblo_bundle_overread.c -llo && ./a.out   (SIGSEGV) */
#include <lo/lo.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
int main(void) {
    static const unsigned char pkt[] = {
        '#','b','u','n','d','l','e',0, 0,0,0,0,0,0,0,1,   /* "#bundle", timetag "now" */
        0,0,0,0};                                         /* one element of length 0 */
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(m + pg, pg, PROT_NONE);                    /* guard page right after the packet */
    char *p = m + pg - sizeof pkt;
    memcpy(p, pkt, sizeof pkt);
    lo_server s = lo_server_new_with_proto("/tmp/lo_overread.sock", LO_UNIX, NULL);
    unlink("/tmp/lo_overread.sock");
    printf("dispatching %zu bytes ending at a guard page...\n", sizeof pkt);
    fflush(stdout);
    lo_server_dispatch_data(s, p, sizeof pkt);
    puts("no crash");
    return 0;
}
