import { WindowRateLimiter } from "../rate-limit";
import { describeAttemptLimitsContract } from "./attempt-limits-contract";
import { AttemptLimits, SIGN_IN_WINDOWS } from "./attempt-limits";
import { InProcessSignInFailures } from "./sign-in-failures";

/**
 * The embedded default: one instance, the counters in its memory. Every instance index of the
 * contract answers the same object (there is no other instance to share with). The same contract
 * on Postgres, two instances: lib/integrations/attempt-limits-postgres.test.ts.
 */
describeAttemptLimitsContract("in process", async () => {
  const store = new InProcessSignInFailures(SIGN_IN_WINDOWS);
  const limits = new AttemptLimits(store, (_scope, limit, windowMs) => new WindowRateLimiter(limit, windowMs));
  return { limits: () => limits, store: () => store, dispose: async () => {} };
});
