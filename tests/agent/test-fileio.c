/* test-fileio.c: the daemon's file access on a data directory it cannot
 * fully trust: reads never block or follow what they must not, writes never
 * go through something planted, and a directory others can change is
 * refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "test.h"

static char dir[] = "/tmp/test-fileio-XXXXXX";

static char *in_dir(const char *name) {
        char *p;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                abort();
        return p;
}

static void test_read(void) {
        _cleanup_free_ char *fifo = in_dir("fifo"), *link = in_dir("link"), *file = in_dir("f");
        char *text = NULL;
        size_t len = 0;
        FILE *f;

        if (mkfifo(fifo, 0600) < 0 || !(f = fopen(file, "w")))
                abort();
        fputs("0123456789", f);
        fclose(f);
        if (symlink(file, link) < 0)
                abort();
        CHECK_INTEQ("a FIFO is refused, not waited on", fileio_read(fifo, 100, 0, &text, &len),
                    -EBADFD);
        CHECK_INTEQ("a directory is refused", fileio_read(dir, 100, 0, &text, &len), -EISDIR);
        CHECK_INTEQ("a symlink is refused where it matters",
                    fileio_read(link, 100, FILEIO_NOFOLLOW, &text, &len), -ELOOP);
        CHECK_INTEQ("too large", fileio_read(file, 9, 0, &text, &len), -EFBIG);
        CHECK_INTEQ("... with its size", len, 10);
        if (CHECK_INTEQ("a regular file is read", fileio_read(link, 10, 0, &text, &len), 0))
                CHECK("... whole", len == 10 && strcmp(text, "0123456789") == 0);
        free(text);
        unlink(fifo);
        unlink(link);
        unlink(file);
}

/* The old writer used dir/.NAME.tmp-PID: a symlink planted there made it
 * write through to wherever the link pointed. */
static void test_write(void) {
        _cleanup_free_ char *victim = in_dir("victim"), *planted = NULL, *target = in_dir("state");
        char text[64] = "";
        FILE *f;
        int fd;

        if (!(f = fopen(victim, "w")))
                abort();
        fputs("untouched", f);
        fclose(f);
        if (asprintf(&planted, "%s/.state.tmp-%d", dir, (int)getpid()) < 0 ||
            symlink(victim, planted) < 0)
                abort();
        CHECK_INTEQ("atomic write", fileio_write_atomic(dir, "state", "new"), 0);
        fd = open(victim, O_RDONLY);
        if (fd < 0 || read(fd, text, sizeof text - 1) < 0)
                abort();
        close(fd);
        CHECK_STREQ("nothing planted in the directory is written through", text, "untouched");
        fd = open(target, O_RDONLY);
        memset(text, 0, sizeof text);
        if (fd < 0 || read(fd, text, sizeof text - 1) < 0)
                abort();
        close(fd);
        CHECK_STREQ("the file has the text and a newline", text, "new\n");
        unlink(victim);
        unlink(planted);
        unlink(target);
}

static void test_private_dir(void) {
        _cleanup_free_ char *sub = in_dir("data"), *why = NULL;

        CHECK_INTEQ("a missing directory is fine (made when written)",
                    fileio_check_private_dir(sub, &why), 0);
        CHECK_INTEQ("probing makes it and writes in it", fileio_probe_dir(sub), 0);
        CHECK_INTEQ("a private directory is fine", fileio_check_private_dir(sub, &why), 0);
        if (chmod(sub, 0777) < 0)
                abort();
        CHECK_INTEQ("a directory anyone can write is refused", fileio_check_private_dir(sub, &why),
                    -EINVAL);
        CHECK("... saying so", why && strstr(why, "writable by everyone (mode 0777)"));
        free(why);
        why = NULL;
        if (chmod(sub, 0700) < 0)
                abort();
        /* Only root can give a directory away to test the owner rule. */
        if (geteuid() == 0 && chown(sub, 4242, 4242) == 0) {
                CHECK_INTEQ("a directory another user owns is refused",
                            fileio_check_private_dir(sub, &why), -EINVAL);
                CHECK("... saying whose", why && strstr(why, "owned by uid 4242"));
        } else
                CHECK("owner rule (root gives it away; else its mode is checked)",
                      fileio_check_private_dir(sub, &why) == 0);
        rmdir(sub);
}

int main(void) {
        if (!mkdtemp(dir))
                abort();
        test_read();
        test_write();
        test_private_dir();
        rmdir(dir);
        return test_done();
}
