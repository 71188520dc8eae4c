import { describe, expect, it } from "vitest";
import { isValidTwilioSignature, twilioSignature } from "../../src/notify/twilio-signature";

// The worked example of Twilio's "Validating requests" documentation.
const TOKEN = "12345";
const URL = "https://mycompany.com/myapp.php?foo=1&bar=2";
const PARAMS = {
  CallSid: "CA1234567890ABCDE",
  Caller: "+14158675310",
  Digits: "1234",
  From: "+14158675310",
  To: "+18005551212",
};
const DOCUMENTED_SIGNATURE = "GvWf1cFY/Q7PnoempGyD5oXAezc=";

describe("X-Twilio-Signature", () => {
  it("matches Twilio's documented example", async () => {
    expect(await twilioSignature(TOKEN, URL, PARAMS)).toBe(DOCUMENTED_SIGNATURE);
    expect(await isValidTwilioSignature([TOKEN], DOCUMENTED_SIGNATURE, [URL], PARAMS)).toBe(true);
  });

  it("rejects a changed parameter, URL, token or a missing signature", async () => {
    expect(await isValidTwilioSignature([TOKEN], DOCUMENTED_SIGNATURE, [URL], { ...PARAMS, Digits: "1235" })).toBe(
      false,
    );
    expect(
      await isValidTwilioSignature([TOKEN], DOCUMENTED_SIGNATURE, ["https://mycompany.com/myapp.php"], PARAMS),
    ).toBe(false);
    expect(await isValidTwilioSignature(["54321"], DOCUMENTED_SIGNATURE, [URL], PARAMS)).toBe(false);
    expect(await isValidTwilioSignature([TOKEN], undefined, [URL], PARAMS)).toBe(false);
  });

  it("accepts a signature under any token of a rotation, and only those", async () => {
    expect(await isValidTwilioSignature(["new-token", TOKEN], DOCUMENTED_SIGNATURE, [URL], PARAMS)).toBe(true);
    expect(await isValidTwilioSignature([TOKEN, "new-token"], DOCUMENTED_SIGNATURE, [URL], PARAMS)).toBe(true);
    expect(await isValidTwilioSignature(["new-token", "other"], DOCUMENTED_SIGNATURE, [URL], PARAMS)).toBe(false);
    expect(await isValidTwilioSignature([], DOCUMENTED_SIGNATURE, [URL], PARAMS)).toBe(false);
  });
});
