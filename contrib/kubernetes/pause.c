/* The pod sandbox's "pause" process, as Kubernetes' own: holds the pod's
 * namespaces, reaps orphans (it is PID 1 when the pod shares one PID namespace),
 * exits 0 on SIGTERM/SIGINT. tests/kubernetes.rs builds it static
 * (`cc -static -Os`) and imports it as the CRI plugin's sandbox_image, since no
 * registry is reachable there. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }

int main(void) {
    struct sigaction q = {.sa_handler = quit}, r = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
    if (sigaction(SIGINT, &q, NULL) || sigaction(SIGTERM, &q, NULL) || sigaction(SIGCHLD, &r, NULL))
        return 1;
    for (;;)
        pause();
}
