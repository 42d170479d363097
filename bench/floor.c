/* The floor: the sequential cells done by libcurl alone, no Python at all. No libcurl-based
   Python client can beat this on the same machine, libcurl and server.

     floor MODE URL N ROUNDS WARMUP MAX_SECONDS CHECK

   MODE  get     one reused easy handle, N sequential GETs, body captured in a C buffer,
                 Content-Encoding decoded by libcurl; CHECK = file holding the expected body
         fresh   a new easy handle per request (create, GET, clean up); CHECK as for get
         post    one handle, N sequential POSTs of the bytes in CHECK; the answer must be
                 their length in decimal (the bench's /upload)
         stream  one handle, N sequential GETs whose chunks are counted and dropped;
                 CHECK = the expected byte count
   Prints one JSON line like bench/worker.py: rounds (wall_s, cpu_s, requests, partial),
   rss_base_kib, rss_peak_kib (VmHWM), requests_total. `floor --version` prints libcurl's. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct {
	char *p;
	size_t n, cap;
	int keep; /* 0: count only (stream) */
} buf;

static size_t on_data(char *d, size_t s, size_t m, void *u)
{
	buf *b = u;
	size_t k = s * m;
	if (b->keep) {
		if (b->n + k > b->cap) {
			size_t cap = (b->n + k) * 2;
			char *p = realloc(b->p, cap);
			if (!p)
				return 0;
			b->p = p;
			b->cap = cap;
		}
		memcpy(b->p + b->n, d, k);
	}
	b->n += k;
	return k;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec +
	       r.ru_stime.tv_usec / 1e6;
}

static long hwm_kib(void)
{
	char line[256];
	long v = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			v = atol(line + 6);
	fclose(f);
	return v;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = malloc(n > 0 ? n : 1);
	if (!p || fread(p, 1, n, f) != (size_t)n) {
		fclose(f);
		free(p);
		return NULL;
	}
	fclose(f);
	*len = n;
	return p;
}

enum mode { GET, FRESH, POST, STREAM };

static enum mode g_mode;
static const char *g_url;
static const char *g_want;
static size_t g_want_len;
static char g_post_answer[32];
static CURL *g_handle;
static buf g_buf;

static CURL *new_handle(void)
{
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, g_url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g_buf);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never a proxy from the environment */
	if (g_mode == POST) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, g_want);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)g_want_len);
	}
	return c;
}

/* One request; 0 when it succeeded and its body is right. */
static int one(void)
{
	CURL *c = g_mode == FRESH ? new_handle() : g_handle;
	long status = 0;
	g_buf.n = 0;
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (g_mode == FRESH)
		curl_easy_cleanup(c);
	if (rc != CURLE_OK || status != 200) {
		fprintf(stderr, "floor: %s (status %ld)\n", curl_easy_strerror(rc), status);
		return 1;
	}
	int ok;
	if (g_mode == STREAM)
		ok = g_buf.n == g_want_len;
	else if (g_mode == POST)
		ok = g_buf.n == strlen(g_post_answer) && memcmp(g_buf.p, g_post_answer, g_buf.n) == 0;
	else
		ok = g_buf.n == g_want_len && memcmp(g_buf.p, g_want, g_want_len) == 0;
	if (!ok) {
		fprintf(stderr, "floor: wrong body (%zu bytes)\n", g_buf.n);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("%s\n", curl_version_info(CURLVERSION_NOW)->version);
		return 0;
	}
	if (argc != 8) {
		fprintf(stderr, "usage: floor get|fresh|post|stream URL N ROUNDS WARMUP MAX_SECONDS CHECK\n");
		return 2;
	}
	const char *m = argv[1];
	g_mode = !strcmp(m, "get") ? GET : !strcmp(m, "fresh") ? FRESH : !strcmp(m, "post") ? POST
		 : !strcmp(m, "stream") ? STREAM : -1;
	if ((int)g_mode < 0) {
		fprintf(stderr, "floor: unknown mode %s\n", m);
		return 2;
	}
	g_url = argv[2];
	if (strncmp(g_url, "http://127.0.0.1:", 17) != 0) {
		fprintf(stderr, "floor: refusing %s: http://127.0.0.1:PORT only\n", g_url);
		return 2;
	}
	long n = atol(argv[3]), rounds = atol(argv[4]), warm = atol(argv[5]);
	double max_s = atof(argv[6]);
	if (g_mode == STREAM) {
		g_want_len = (size_t)atoll(argv[7]);
	} else {
		char *w = read_file(argv[7], &g_want_len);
		if (!w) {
			fprintf(stderr, "floor: cannot read %s\n", argv[7]);
			return 2;
		}
		g_want = w;
		snprintf(g_post_answer, sizeof g_post_answer, "%zu", g_want_len);
	}
	g_buf.keep = g_mode != STREAM;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (g_mode != FRESH)
		g_handle = new_handle();
	long base = hwm_kib(), total = 0;
	double deadline = now() + max_s;
	for (long i = 0; i < (warm > 0 ? warm : 1); i++, total++)
		if (one())
			return 1;
	enum { MAX_ROUNDS = 64 };
	double wall[MAX_ROUNDS], used[MAX_ROUNDS];
	long count[MAX_ROUNDS], nr = 0;
	for (long r = 0; r < rounds && r < MAX_ROUNDS; r++, nr++) {
		if (r && now() > deadline) /* the first round always runs */
			break;
		double t0 = now(), c0 = cpu();
		long done = 0;
		while (done < n) {
			if (one())
				return 1;
			done++;
			if (now() > deadline)
				break;
		}
		wall[r] = now() - t0;
		used[r] = cpu() - c0;
		count[r] = done;
		total += done;
	}
	printf("{\"api\": \"C\", \"rounds\": [");
	for (long r = 0; r < nr; r++)
		printf("%s{\"wall_s\": %.9f, \"cpu_s\": %.6f, \"requests\": %ld, \"partial\": %s}",
		       r ? ", " : "", wall[r], used[r], count[r], count[r] < n ? "true" : "false");
	printf("], \"requests_total\": %ld, \"rss_base_kib\": %ld, \"rss_peak_kib\": %ld}\n", total,
	       base, hwm_kib());
	if (g_handle)
		curl_easy_cleanup(g_handle);
	curl_global_cleanup();
	return 0;
}
