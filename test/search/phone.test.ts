import { describe, expect, it } from "vitest";
import { callingCodeOf, normalisePhone } from "../../src/search/phone";

describe("phone numbers as staff type them, to E.164", () => {
  it("reads every common US format as the same number (the US by default)", () => {
    for (const typed of [
      "(415) 555-0123",
      "415-555-0123",
      "415.555.0123",
      "4155550123",
      "1 415 555 0123",
      "1-415-555-0123",
      "+1 (415) 555-0123",
      "+14155550123",
      "001 415 555 0123",
      "011 1 415 555 0123",
      "  415 555 0123 ",
    ])
      expect(normalisePhone(typed), typed).toBe("+14155550123");
  });

  it("keeps an international number's own country code and drops its trunk 0 only in national form", () => {
    expect(normalisePhone("+44 20 7946 0958")).toBe("+442079460958");
    expect(normalisePhone("0044 20 7946 0958")).toBe("+442079460958");
    expect(normalisePhone("011 44 20 7946 0958")).toBe("+442079460958");
    expect(normalisePhone("020 7946 0958", "44")).toBe("+442079460958");
    expect(normalisePhone("030 123456789", "49")).toBe("+4930123456789");
    // Italy keeps its leading 0 (+39 06…).
    expect(normalisePhone("06 1234 5678", "39")).toBe("+390612345678");
  });

  it("refuses what cannot be a number: letters, too few or too many digits, an impossible US number", () => {
    for (const typed of ["", "pat_123", "555-0123", "415 555 012", "+1 415 555 01234", "(015) 555-0123", "4+155550123"])
      expect(normalisePhone(typed), typed).toBeNull();
  });

  it("finds a clinic's country calling code from its E.164 phone", () => {
    expect(callingCodeOf("+14155550100")).toBe("1");
    expect(callingCodeOf("+442079460958")).toBe("44");
    expect(callingCodeOf("+35312345678")).toBe("353");
    expect(callingCodeOf("+74951234567")).toBe("7");
    expect(callingCodeOf(null)).toBeNull();
    expect(callingCodeOf("4155550100")).toBeNull();
  });
});
