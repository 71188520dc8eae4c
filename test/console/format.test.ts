import { describe, expect, it } from "vitest";
import { formatAge, formatInstant, maskEmail, maskPhone, wallClockToUtc } from "../../src/console/format";
import { localDate } from "../../src/time-zone";

describe("console formatting", () => {
  it("masks contact details to a hint", () => {
    expect(maskPhone("+14155550123")).toBe("+1•••••0123");
    expect(maskPhone("+447700900123")).toBe("+4•••••0123");
    expect(maskPhone("+1")).toBe("•••••");
    expect(maskEmail("jane.doe@example.com")).toBe("j•••@example.com");
    expect(maskEmail("not-an-email")).toBe("•••••");
  });

  it("shows instants in the clinic's zone, whatever the machine's", () => {
    expect(formatInstant("2031-01-15T15:04:05.000Z", "America/New_York")).toBe("Jan 15, 2031, 10:04:05 EST");
    expect(formatInstant("2031-07-15T15:04:05.000Z", "America/Los_Angeles")).toBe("Jul 15, 2031, 08:04:05 PDT");
    expect(localDate(Date.parse("2031-01-16T03:00:00.000Z"), "America/New_York")).toBe("2031-01-15");
  });

  it("says how long ago in the two largest units", () => {
    const now = new Date("2031-01-15T12:00:00.000Z");
    expect(formatAge("2031-01-15T11:59:15.000Z", now)).toBe("45 s");
    expect(formatAge("2031-01-15T11:57:00.000Z", now)).toBe("3 min");
    expect(formatAge("2031-01-15T09:55:00.000Z", now)).toBe("2 h 5 min");
    expect(formatAge("2031-01-11T11:00:00.000Z", now)).toBe("4 d 1 h");
    expect(formatAge("2031-01-15T12:00:30.000Z", now)).toBe("0 s");
  });

  it("reads a clinic wall-clock time as UTC, across daylight-saving changes", () => {
    expect(wallClockToUtc("2031-01-15T10:00", "America/New_York")).toBe("2031-01-15T15:00:00.000Z");
    expect(wallClockToUtc("2031-07-15T10:00", "America/New_York")).toBe("2031-07-15T14:00:00.000Z");
    // 9 March 2031 is the spring-forward day in the US: 03:30 exists only as EDT.
    expect(wallClockToUtc("2031-03-09T03:30", "America/New_York")).toBe("2031-03-09T07:30:00.000Z");
    expect(wallClockToUtc("2031-01-15T10:00", "UTC")).toBe("2031-01-15T10:00:00.000Z");
    expect(wallClockToUtc("15/01/2031", "UTC")).toBeNull();
  });
});
