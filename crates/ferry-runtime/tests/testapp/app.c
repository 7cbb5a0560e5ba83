/*
 * The test app for ferry-runtime's Docker tests: a static, dependency-free HTTP server.
 *
 * Start-up: writes "app starting" to stdout and "app warming up" to stderr.
 * EXIT_CODE=<n> in the environment: also writes "exiting with <n>" to stderr, then exits with n.
 * Otherwise it listens on $PORT (default 8080) and answers, one request at a time:
 *   GET /             "hello <GREETING> args=<argv[1..] joined by ','>"
 *   GET /out?<text>   writes <text> as a line to stdout
 *   GET /err?<text>   writes <text> as a line to stderr
 *   GET /long?<n>     writes a line of n 'x' to stdout (the engine splits lines longer than 16 KiB)
 *   GET /exit?<n>     writes "bye" to stdout without a newline, then exits with n
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0) return;
        buf += n;
        len -= (size_t)n;
    }
}

static void say(int fd, const char *text) {
    write_all(fd, text, strlen(text));
    write_all(fd, "\n", 1);
}

static void respond(int conn, const char *body) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     strlen(body));
    write_all(conn, head, (size_t)n);
    write_all(conn, body, strlen(body));
}

int main(int argc, char **argv) {
    say(1, "app starting");
    say(2, "app warming up");
    const char *exit_code = getenv("EXIT_CODE");
    if (exit_code != NULL) {
        char line[64];
        snprintf(line, sizeof line, "exiting with %s", exit_code);
        say(2, line);
        return atoi(exit_code);
    }
    const char *greeting = getenv("GREETING");
    char hello[1024];
    snprintf(hello, sizeof hello, "hello %s args=", greeting ? greeting : "(none)");
    for (int i = 1; i < argc; i++) {
        if (i > 1) strncat(hello, ",", sizeof hello - strlen(hello) - 1);
        strncat(hello, argv[i], sizeof hello - strlen(hello) - 1);
    }
    const char *port = getenv("PORT");
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(port ? port : "8080"));
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 16) != 0) {
        say(2, "cannot listen");
        return 1;
    }
    say(1, "listening");
    for (;;) {
        int conn = accept(listener, NULL, NULL);
        if (conn < 0) continue;
        char req[2048];
        ssize_t n = read(conn, req, sizeof req - 1);
        if (n <= 0) {
            close(conn);
            continue;
        }
        req[n] = '\0';
        char path[1024] = "/";
        sscanf(req, "GET %1023s", path);
        char *query = strchr(path, '?');
        if (query != NULL) *query++ = '\0';
        else query = "";
        if (strcmp(path, "/out") == 0) {
            say(1, query);
            respond(conn, "ok\n");
        } else if (strcmp(path, "/err") == 0) {
            say(2, query);
            respond(conn, "ok\n");
        } else if (strcmp(path, "/long") == 0) {
            size_t len = (size_t)atol(query);
            char *line = malloc(len + 1);
            if (line != NULL) {
                memset(line, 'x', len);
                line[len] = '\0';
                say(1, line);
                free(line);
            }
            respond(conn, "ok\n");
        } else if (strcmp(path, "/exit") == 0) {
            write_all(1, "bye", 3);
            respond(conn, "ok\n");
            close(conn);
            return atoi(query);
        } else {
            respond(conn, hello);
        }
        close(conn);
    }
}
