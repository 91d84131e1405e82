import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MailQueue, NewMail, QueuedMail } from "./mail-queue";

export interface MailQueueFixture {
  queue: MailQueue;
  /** A second handle on the same database (another instance). */
  second(): MailQueue;
  dispose(): Promise<void>;
}

const T0 = Date.parse("2030-01-02T03:04:05.678Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();

function mail(id: string, org: string, createdMs: number, to = "olivia@example.com"): NewMail {
  return { id, org, event: "integration.status_changed", to, subject: `[Credential manager] ${id}`, text: `body of ${id}\nline 2`, createdAt: at(createdMs) };
}

/** What every MailQueue must do: run by mail-queue.test.ts (SQLite) and mail-queue-postgres.test.ts. */
export function describeMailQueueContract(name: string, make: () => Promise<MailQueueFixture>): void {
  describe(`MailQueue contract: ${name}`, () => {
    let fx: MailQueueFixture;
    let queue: MailQueue;
    beforeEach(async () => {
      fx = await make();
      queue = fx.queue;
    });
    afterEach(async () => {
      await queue.close();
      await fx.dispose();
    });

    it("keeps each mail as queued and claims due ones once, oldest first, under a lease", async () => {
      await queue.enqueue([mail("mail_2", "acme", 2000), mail("mail_1", "acme", 1000, "adam@example.com"), mail("mail_3", "acme", 60_000), mail("mail_b", "beta", 0)]);
      const first = await queue.claimDue(at(5000), at(125_000), 10);
      expect(first.map((m) => m.id)).toEqual(["mail_b", "mail_1", "mail_2"]);
      expect(first[1]).toEqual<QueuedMail>({
        id: "mail_1",
        org: "acme",
        event: "integration.status_changed",
        to: "adam@example.com",
        subject: "[Credential manager] mail_1",
        text: "body of mail_1\nline 2",
        status: "pending",
        attempts: 0,
        lastResponseCode: null,
        lastError: null,
        createdAt: at(1000),
        lastAttemptAt: null,
        nextAttemptAt: at(1000),
        sentAt: null,
      });
      // Leased: a second worker gets nothing until the lease ends.
      expect(await queue.claimDue(at(6000), at(126_000), 10)).toEqual([]);
      expect((await queue.list("acme", 10)).map((m) => m.id)).toEqual(["mail_3", "mail_2", "mail_1"]);
      expect((await queue.list("beta", 10)).map((m) => m.id)).toEqual(["mail_b"]);
    });

    it("records attempts: sent and failed rows are never claimed again, a retry is due at its time, an expired lease frees a row", async () => {
      await queue.enqueue([mail("mail_1", "acme", 0), mail("mail_2", "acme", 0), mail("mail_3", "acme", 0), mail("mail_4", "acme", 0)]);
      expect(await queue.claimDue(at(0), at(120_000), 10)).toHaveLength(4);
      await queue.recordAttempt("mail_1", { status: "sent", responseCode: null, error: null, at: at(10), nextAttemptAt: null });
      await queue.recordAttempt("mail_2", { status: "failed", responseCode: 550, error: "the SMTP server answered 550 to RCPT TO", at: at(10), nextAttemptAt: null });
      await queue.recordAttempt("mail_3", { status: "pending", responseCode: 451, error: "the SMTP server answered 451 to RCPT TO", at: at(10), nextAttemptAt: at(30_010) });
      // mail_4 was claimed and never recorded (a crashed worker).
      expect(await queue.claimDue(at(30_000), at(150_000), 10)).toEqual([]);
      const retry = await queue.claimDue(at(120_000), at(240_000), 10);
      expect(retry.map((m) => m.id)).toEqual(["mail_4", "mail_3"]); // mail_4 was due first
      expect(retry[1]).toMatchObject({ attempts: 1, lastResponseCode: 451, lastError: "the SMTP server answered 451 to RCPT TO", lastAttemptAt: at(10) });
      const byId = Object.fromEntries((await queue.list("acme", 10)).map((m) => [m.id, m]));
      expect(byId.mail_1).toMatchObject({ status: "sent", attempts: 1, sentAt: at(10), nextAttemptAt: null });
      expect(byId.mail_2).toMatchObject({ status: "failed", attempts: 1, lastResponseCode: 550, sentAt: null, nextAttemptAt: null });
    });

    it("a late attempt never overwrites a finished row (a worker whose lease ran out)", async () => {
      await queue.enqueue([mail("mail_1", "acme", 0)]);
      await queue.claimDue(at(0), at(1000), 1);
      await queue.recordAttempt("mail_1", { status: "sent", responseCode: null, error: null, at: at(10), nextAttemptAt: null });
      await queue.recordAttempt("mail_1", { status: "pending", responseCode: null, error: "no answer", at: at(20), nextAttemptAt: at(30) });
      expect((await queue.list("acme", 1))[0]).toMatchObject({ status: "sent", attempts: 1, sentAt: at(10), lastError: null });
    });

    it("prunes finished mail created before the cut, never pending mail", async () => {
      await queue.enqueue([mail("mail_1", "acme", 0), mail("mail_2", "acme", 0), mail("mail_3", "acme", 0), mail("mail_4", "acme", 5000)]);
      await queue.claimDue(at(10_000), at(20_000), 10);
      await queue.recordAttempt("mail_1", { status: "sent", responseCode: null, error: null, at: at(10), nextAttemptAt: null });
      await queue.recordAttempt("mail_2", { status: "failed", responseCode: 554, error: "x", at: at(10), nextAttemptAt: null });
      await queue.recordAttempt("mail_4", { status: "sent", responseCode: null, error: null, at: at(5010), nextAttemptAt: null });
      expect(await queue.pruneFinished(at(1))).toBe(2);
      expect((await queue.list("acme", 10)).map((m) => m.id).sort()).toEqual(["mail_3", "mail_4"]);
    });

    it("two handles on one database, claiming at once, never get the same mail", async () => {
      const other = fx.second();
      try {
        await queue.enqueue(Array.from({ length: 30 }, (_, i) => mail(`mail_${String(i).padStart(2, "0")}`, "acme", i)));
        const [a, b] = await Promise.all([queue.claimDue(at(100), at(60_000), 20), other.claimDue(at(100), at(60_000), 20)]);
        const ids = [...a, ...b].map((m) => m.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toHaveLength(30);
      } finally {
        await other.close();
      }
    });
  });
}
