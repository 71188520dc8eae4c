import { describe, expect, it } from "vitest";
import { reasonFields } from "../../src/notify/reasons";

describe("the API's reason of a notification suppressed by the patient's own contact (issue 23)", () => {
  it.each([
    ["email_bounced", "email"],
    ["email_complained", "email"],
    ["email_unsubscribed", "email"],
    ["phone_unreachable", "sms"],
  ])("%s has its code and sentence", (error, channel) => {
    const fields = reasonFields({ status: "suppressed", error, channel });
    expect(fields.reason).toBe(error);
    expect(fields.reason_sentence).toMatch(/\.$/);
  });
});
