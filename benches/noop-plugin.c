/* A no-op qod plugin: reads the context to EOF, prints a valid result.
 * Used by benches/overhead.sh to measure what qod adds around a plugin. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    char buf[65536];
    while (read(0, buf, sizeof buf) > 0) {
    }
    fputs("{\"protocol\":1,\"status\":\"ok\",\"metrics\":[{\"name\":\"value\",\"value\":1}]}\n", stdout);
    return 0;
}
