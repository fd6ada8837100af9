/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the stress tests share: a seeded PRNG (a seed replays a run's
 * choices), a monotonic clock in milliseconds, numeric environment knobs
 * and a stop flag for their threads.
 */
#ifndef STRESS_UTIL_H
#define STRESS_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Tiny deterministic PRNG (xorshift32). */
static inline uint32_t rnd(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x ?: 0x9e3779b9;
}

/* Uniform enough in [0, n). */
static inline uint32_t rnd_below(uint32_t *state, uint32_t n)
{
	return n ? rnd(state) % n : 0;
}

static inline long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static inline long env_long(const char *name, long def)
{
	const char *s = getenv(name);

	return s && *s ? strtol(s, NULL, 0) : def;
}

static inline bool stop_requested(const int *stop)
{
	return __atomic_load_n(stop, __ATOMIC_ACQUIRE);
}

static inline void request_stop(int *stop)
{
	__atomic_store_n(stop, 1, __ATOMIC_RELEASE);
}

#endif /* STRESS_UTIL_H */
