import { describe, expect, it } from "vitest";
import { baseRetryDelayMs, FIRST_RETRY_MS, MAX_RETRY_WAIT_MS, nextAttemptAt, RETRY_WINDOW_MS } from "./backoff";

describe("webhook retry schedule", () => {
  it("doubles from 30 s, each wait capped at 6 h", () => {
    expect([1, 2, 3, 4, 5, 6].map(baseRetryDelayMs)).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 960_000]);
    expect(baseRetryDelayMs(10)).toBe(FIRST_RETRY_MS * 512);
    expect(baseRetryDelayMs(12)).toBe(MAX_RETRY_WAIT_MS);
    expect(baseRetryDelayMs(40)).toBe(MAX_RETRY_WAIT_MS);
  });

  it("jitters each wait by at most ±10%", () => {
    const t0 = 1_000_000;
    expect(nextAttemptAt({ attempts: 1, createdAtMs: t0, nowMs: t0, random: () => 0 })).toBe(t0 + 27_000);
    expect(nextAttemptAt({ attempts: 1, createdAtMs: t0, nowMs: t0, random: () => 1 })).toBe(t0 + 33_000);
    expect(nextAttemptAt({ attempts: 3, createdAtMs: t0, nowMs: t0, random: () => 0.5 })).toBe(t0 + 120_000);
  });

  it("keeps trying for 24 hours, the last try at the 24-hour mark, then gives up", () => {
    const t0 = Date.UTC(2026, 0, 1);
    let now = t0;
    const times: number[] = [now];
    for (let attempts = 1; ; attempts++) {
      const next = nextAttemptAt({ attempts, createdAtMs: t0, nowMs: now, random: () => 0.5 });
      if (next === null) break;
      expect(next).toBeGreaterThan(now);
      now = next;
      times.push(now);
    }
    expect(times.at(-1)).toBe(t0 + RETRY_WINDOW_MS);
    // Attempts at 0, 30 s, 1.5 min, 3.5 min, … 8.5 h, then 6 h apart (14.5 h, 20.5 h) and the last at 24 h: 14 in all.
    expect(times.slice(0, 4).map((t) => t - t0)).toEqual([0, 30_000, 90_000, 210_000]);
    expect(times).toHaveLength(14);
  });
});
