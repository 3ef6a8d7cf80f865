/*
** gen.c: web access-log lines for the benchmark, from a fixed seed.
**
**   gen [-s SEED] -n BYTES > FILE
**
** Writes whole lines until at least BYTES bytes are out, in nginx's
** "combined" format followed by the request time and the upstream response
** time, as many sites configure it:
**
**   203.0.113.7 - - [24/Nov/2026:10:00:00 +0000] "GET /api/v1/users/4711
**   HTTP/1.1" 200 1534 "https://shop.example.com/cart" "Mozilla/5.0 ..."
**   0.012 0.011
**
** The variety is what makes compression figures honest: clients drawn
** from a skewed pool (a few busy ones, a long tail, some IPv6, some never
** seen before), paths from templates with ids, slugs and query strings,
** status codes, sizes and timings that depend on the kind of request,
** referrers and about forty user agents (browsers, phones, bots, tools)
** with skewed weights, and a clock that moves on by a random few
** milliseconds per line. The same seed always gives the same bytes.
**
** Compile with: gcc -O2 -Wall gen.c -o gen -lm
*/
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- a small deterministic generator (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

/* Uniform in [0, 1). */
static double unit(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* Roughly Zipf-distributed index in [0, n): low indexes are common. */
static uint64_t skewed(uint64_t n, double s)
{
	double u = unit();
	uint64_t i = (uint64_t)(pow(u, s) * (double)n);

	return i < n ? i : n - 1;
}

/* Log-normal with the given median and spread. */
static double lognormal(double median, double sigma)
{
	double u1 = unit() + 1e-12, u2 = unit();
	double z = sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);

	return median * exp(sigma * z);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const agents[] = {
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.102 Mobile Safari/537.36",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
	"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
	"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
	"Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Linux; Android 12; moto g(60)) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
	"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/110.0.0.0",
	"curl/7.88.1",
	"curl/8.5.0",
	"python-requests/2.31.0",
	"python-requests/2.32.3",
	"Go-http-client/1.1",
	"Go-http-client/2.0",
	"okhttp/4.12.0",
	"Wget/1.21.3",
	"PostmanRuntime/7.42.0",
	"Apache-HttpClient/4.5.14 (Java/17.0.9)",
	"axios/1.7.7",
	"kube-probe/1.29",
	"ELB-HealthChecker/2.0",
	"Prometheus/2.48.1",
	"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
	"-",
};

static const char *const words[] = {
	"shoes", "running", "jacket", "winter", "blue", "red", "laptop", "stand", "usb-c", "cable",
	"coffee", "grinder", "espresso", "mug", "desk", "lamp", "chair", "office", "garden", "hose",
	"kids", "toys", "lego", "puzzle", "book", "novel", "cookbook", "vegan", "gluten-free", "bread",
	"phone", "case", "charger", "wireless", "earbuds", "headphones", "noise", "cancelling", "tv", "4k",
	"monitor", "27-inch", "keyboard", "mechanical", "mouse", "gaming", "backpack", "travel", "tent",
	"sleeping-bag", "bike", "helmet", "lights", "watch", "smart", "fitness", "tracker", "yoga", "mat",
	"dumbbells", "protein", "vitamins", "shampoo", "soap", "towel", "bedding", "pillow", "sofa",
	"table", "dining", "kitchen", "knife", "pan", "pot", "blender", "toaster", "kettle", "fridge",
	"washer", "dryer", "vacuum", "robot", "drill", "saw", "hammer", "screws", "paint", "brush",
	"sale", "new", "best", "cheap", "gift", "christmas", "black-friday", "deal", "review", "guide",
	"how-to", "compare", "vs", "2026", "top-10", "ideas", "diy", "repair", "manual", "warranty",
};

static const char *const hosts[] = {
	"https://shop.example.com", "https://www.example.com", "https://blog.example.com",
};

static const char *const externals[] = {
	"https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/",
	"https://www.facebook.com/", "https://t.co/", "https://www.reddit.com/",
	"android-app://com.google.android.gm/", "https://news.ycombinator.com/",
	"https://www.google.de/", "https://search.yahoo.com/",
};

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

enum kind { K_PAGE, K_STATIC, K_IMAGE, K_API, K_SEARCH, K_HEALTH, K_BOT_PROBE, K_KINDS };

struct client {
	char addr[48];
	int agent;
};

#define CLIENTS 20000

static struct client clients[CLIENTS];

static void random_addr(char *buf, size_t len)
{
	if (below(100) < 6) /* IPv6 */
		snprintf(buf, len, "2001:db8:%x:%x::%x", (unsigned)below(0x10000),
			 (unsigned)below(0x10000), (unsigned)below(0x10000));
	else
		snprintf(buf, len, "%u.%u.%u.%u", (unsigned)(1 + below(223)),
			 (unsigned)below(256), (unsigned)below(256),
			 (unsigned)(1 + below(254)));
}

static void make_clients(void)
{
	for (int i = 0; i < CLIENTS; i++) {
		random_addr(clients[i].addr, sizeof clients[i].addr);
		/* people and tools, not the health checkers at the end */
		clients[i].agent = (int)skewed(N(agents) - 5, 2.2);
	}
}

static const char *word(void)
{
	return words[skewed(N(words), 1.6)];
}

/* A path of the given kind into p; returns a typical response size. */
static double make_path(enum kind k, char *p, size_t len)
{
	unsigned id = (unsigned)skewed(200000, 2.5);

	switch (k) {
	case K_PAGE:
		switch (below(6)) {
		case 0:
			snprintf(p, len, "/");
			return 48000;
		case 1:
			snprintf(p, len, "/product/%s-%s-%u", word(), word(), id);
			return 62000;
		case 2:
			snprintf(p, len, "/category/%s/%s?page=%u", word(), word(),
				 (unsigned)(1 + skewed(40, 3)));
			return 54000;
		case 3:
			snprintf(p, len, "/blog/20%02u/%02u/%s-%s-%s", (unsigned)(18 + below(9)),
				 (unsigned)(1 + below(12)), word(), word(), word());
			return 38000;
		case 4:
			snprintf(p, len, "/cart");
			return 21000;
		default:
			snprintf(p, len, "/account/orders/%u", 100000 + id);
			return 17000;
		}
	case K_STATIC:
		switch (below(4)) {
		case 0:
			snprintf(p, len, "/static/js/app.%08x.js", (unsigned)(0x3a1f00c7u + below(4)));
			return 310000;
		case 1:
			snprintf(p, len, "/static/css/main.%08x.css", (unsigned)(0x9b02e411u + below(3)));
			return 88000;
		case 2:
			snprintf(p, len, "/static/fonts/inter-%s.woff2",
				 below(2) ? "regular" : "bold");
			return 48000;
		default:
			snprintf(p, len, "/favicon.ico");
			return 4286;
		}
	case K_IMAGE:
		snprintf(p, len, "/images/products/%u/%s_%ux%u.%s", id, word(),
			 below(2) ? 800u : 400u, below(2) ? 600u : 300u,
			 below(3) ? "jpg" : "webp");
		return 45000;
	case K_API:
		switch (below(5)) {
		case 0:
			snprintf(p, len, "/api/v1/users/%u", id);
			return 1500;
		case 1:
			snprintf(p, len, "/api/v1/orders/%u/items", 100000 + id);
			return 4200;
		case 2:
			snprintf(p, len, "/api/v1/cart?session=%016llx",
				 (unsigned long long)rnd());
			return 900;
		case 3:
			snprintf(p, len, "/api/v2/recommendations?user=%u&limit=%u", id,
				 (unsigned)(5 * (1 + below(4))));
			return 6400;
		default:
			snprintf(p, len, "/api/v1/events");
			return 60;
		}
	case K_SEARCH:
		snprintf(p, len, "/search?q=%s+%s&page=%u&sort=%s", word(), word(),
			 (unsigned)(1 + skewed(10, 3)),
			 below(3) ? "relevance" : (below(2) ? "price_asc" : "newest"));
		return 52000;
	case K_HEALTH:
		snprintf(p, len, below(2) ? "/health" : "/metrics");
		return below(2) ? 2 : 14000;
	default: {
		static const char *const probes[] = {
			"/wp-login.php", "/.env", "/xmlrpc.php", "/admin/config.php",
			"/.git/config", "/phpmyadmin/index.php", "/cgi-bin/luci",
			"/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
		};
		snprintf(p, len, "%s", probes[below(N(probes))]);
		return 150;
	}
	}
}

int main(int argc, char *argv[])
{
	unsigned long long want = 0, seed = 20261124, out = 0;
	time_t t0 = 1795600000; /* a fixed day in 2026 */
	double clock_ms = 0;
	char line[2048], path[512], ref[640], addr[48], ts[40];
	static char obuf[1 << 16];
	size_t olen = 0;
	int c;

	while ((c = getopt(argc, argv, "s:n:")) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 10);
			break;
		case 'n':
			want = strtoull(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: gen [-s SEED] -n BYTES > FILE\n");
			return 2;
		}
	}
	if (want == 0) {
		fprintf(stderr, "usage: gen [-s SEED] -n BYTES > FILE\n");
		return 2;
	}
	rng_state = seed;
	make_clients();

	while (out < want) {
		static const unsigned kind_weight[K_KINDS] = {30, 22, 20, 16, 6, 4, 2};
		unsigned pick = (unsigned)below(100), acc = 0;
		enum kind k = K_PAGE;
		const char *method = "GET", *agent;
		unsigned status;
		double typical, bytes, rt, urt = -1;
		time_t now;
		struct tm tm;
		int n, ci;

		for (int i = 0; i < K_KINDS; i++) {
			acc += kind_weight[i];
			if (pick < acc) {
				k = (enum kind)i;
				break;
			}
		}
		/* The client: a busy one, one from the long tail, or a new one. */
		if (k == K_HEALTH) {
			snprintf(addr, sizeof addr, "10.0.%u.%u", (unsigned)below(4),
				 (unsigned)(2 + below(6)));
			agent = agents[N(agents) - 5 + below(3)];
		} else if (below(100) < 8) {
			random_addr(addr, sizeof addr);
			agent = agents[skewed(N(agents) - 5, 2.2)];
		} else {
			ci = (int)skewed(CLIENTS, 3.0);
			snprintf(addr, sizeof addr, "%s", clients[ci].addr);
			agent = k == K_BOT_PROBE ? agents[25 + below(8)] : agents[clients[ci].agent];
		}

		typical = make_path(k, path, sizeof path);
		if (k == K_API) {
			unsigned m = (unsigned)below(100);
			method = m < 60 ? "GET" : m < 85 ? "POST" : m < 93 ? "PUT" : m < 97 ? "DELETE" : "PATCH";
		} else if (k != K_HEALTH && below(200) == 0) {
			method = below(2) ? "HEAD" : "OPTIONS";
		}

		/* Status depends on the kind of request. */
		{
			unsigned s = (unsigned)below(1000);
			if (k == K_BOT_PROBE)
				status = s < 850 ? 404 : s < 950 ? 403 : 301;
			else if ((k == K_STATIC || k == K_IMAGE) && s < 180)
				status = 304;
			else if (s < 900)
				status = strcmp(method, "POST") == 0 ? (s < 600 ? 201 : 200) : 200;
			else if (s < 925)
				status = s < 915 ? 302 : 301;
			else if (s < 960)
				status = 404;
			else if (s < 975)
				status = k == K_API ? 401 : 403;
			else if (s < 985)
				status = 400;
			else if (s < 988)
				status = 429;
			else if (s < 994)
				status = 500;
			else if (s < 997)
				status = 502;
			else if (s < 999)
				status = 503;
			else
				status = 504;
		}
		if (status == 304 || status == 301 || status == 302 ||
		    strcmp(method, "HEAD") == 0 || strcmp(method, "OPTIONS") == 0)
			bytes = status == 304 ? 0 : 162 + below(40);
		else if (status >= 400)
			bytes = status == 404 ? 555 + below(3000) : 150 + below(400);
		else
			bytes = lognormal(typical, 0.5);

		/* Timings: static files are fast and have no upstream. */
		if (k == K_STATIC || k == K_IMAGE || k == K_BOT_PROBE) {
			rt = status == 304 ? 0 : lognormal(0.002, 1.0);
		} else {
			urt = lognormal(k == K_SEARCH ? 0.120 : k == K_API ? 0.025 : 0.060, 0.9);
			if (status == 504)
				urt = 60.0;
			rt = urt + lognormal(0.0008, 0.6);
		}

		/* Referrer. */
		{
			unsigned r = (unsigned)below(100);
			if (r < 38 || k == K_HEALTH || k == K_BOT_PROBE)
				snprintf(ref, sizeof ref, "-");
			else if (r < 85) {
				char from[512];
				make_path(below(3) ? K_PAGE : K_SEARCH, from, sizeof from);
				snprintf(ref, sizeof ref, "%s%s", hosts[below(N(hosts))], from);
			} else
				snprintf(ref, sizeof ref, "%s", externals[skewed(N(externals), 2.0)]);
		}

		clock_ms += -log(unit() + 1e-9) * 4.0; /* ~250 requests per second */
		now = t0 + (time_t)(clock_ms / 1000);
		gmtime_r(&now, &tm);
		snprintf(ts, sizeof ts, "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
			 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);

		if (urt < 0)
			n = snprintf(line, sizeof line,
				     "%s - - [%s] \"%s %s HTTP/%s\" %u %.0f \"%s\" \"%s\" %.3f -\n",
				     addr, ts, method, path, below(4) ? "1.1" : "2.0", status,
				     bytes, ref, agent, rt);
		else
			n = snprintf(line, sizeof line,
				     "%s - - [%s] \"%s %s HTTP/%s\" %u %.0f \"%s\" \"%s\" %.3f %.3f\n",
				     addr, ts, method, path, below(4) ? "1.1" : "2.0", status,
				     bytes, ref, agent, rt, urt);
		if (n <= 0 || (size_t)n >= sizeof line)
			continue;
		if (olen + (size_t)n > sizeof obuf) {
			if (fwrite(obuf, 1, olen, stdout) != olen)
				goto fail;
			olen = 0;
		}
		memcpy(obuf + olen, line, (size_t)n);
		olen += (size_t)n;
		out += (unsigned long long)n;
	}
	if (fwrite(obuf, 1, olen, stdout) != olen || fflush(stdout) != 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "gen: write: %s\n", strerror(errno));
	return 1;
}
