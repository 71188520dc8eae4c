import { describe, expect, it } from "vitest";
import { fitsOneSegment, gsm7Length } from "../../src/notify/sms-encoding";
import { renderEmail, renderSms, TEMPLATE_KINDS } from "../../src/notify/templates";
import { trackingUrl } from "../../src/notify/tracking";

const MEDICATIONS = ["Testosterone Cypionate", "Metformin", "Semaglutide", "Canarycillin"];

describe("tracking links", () => {
  it.each([
    ["UPS", "1Z999AA10123456784", "https://www.ups.com/track?tracknum=1Z999AA10123456784"],
    ["FedEx", "771234567890", "https://www.fedex.com/fedextrack/?trknbr=771234567890"],
    ["usps", "9400111899223856928496", "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223856928496"],
    ["DHL", "1234567890", "https://www.dhl.com/us-en/home/tracking.html?tracking-id=1234567890"],
  ])("%s", (carrier, number, url) => {
    expect(trackingUrl(carrier, number)).toBe(url);
  });

  it("none for an unknown carrier or a missing number", () => {
    expect(trackingUrl("Pigeon Post", "1")).toBeNull();
    expect(trackingUrl("UPS", null)).toBeNull();
  });
});

describe("SMS", () => {
  const clinics = ["Sunrise Clinic", "The Very Long Name Family Medicine & Wellness Center of Springfield"];
  const carriers = ["UPS", "FedEx", "USPS", "DHL"];

  it("every kind, clinic and carrier fits one GSM-7 segment and names no medication", () => {
    for (const kind of [...TEMPLATE_KINDS, "medication_request_approved"]) {
      for (const clinicName of clinics) {
        for (const carrier of carriers) {
          const text = renderSms({
            kind,
            clinicName,
            clinicPhone: "+14155550123",
            carrier,
            trackingNumber: "9400111899223856928496",
            estimatedDelivery: "2025-01-18",
          });
          expect(gsm7Length(text)).not.toBeNull();
          expect(gsm7Length(text)!).toBeLessThanOrEqual(160);
          for (const medication of MEDICATIONS) expect(text).not.toContain(medication);
        }
      }
    }
  });

  it("shipped carries the carrier and tracking link and the opt-out hint when it fits", () => {
    const text = renderSms({
      kind: "order_shipped",
      clinicName: "Sunrise Clinic",
      clinicPhone: null,
      carrier: "UPS",
      trackingNumber: "1Z999AA10123456784",
    });
    expect(text).toBe(
      "Sunrise Clinic: your order has shipped via UPS. Track: https://www.ups.com/track?tracknum=1Z999AA10123456784 Reply STOP to opt out.",
    );
    expect(fitsOneSegment(text)).toBe(true);
  });

  it("keeps GSM-7 for typographic characters in the clinic name", () => {
    const text = renderSms({ kind: "order_delivered", clinicName: "St. Mary’s – Clinic", clinicPhone: null });
    expect(gsm7Length(text)).not.toBeNull();
  });
});

describe("email", () => {
  it("has a subject, plain text and HTML with the tracking link, escaped", () => {
    const email = renderEmail({
      kind: "order_shipped",
      clinicName: "Smith & <Sons>",
      clinicPhone: "+14155550123",
      carrier: "FedEx",
      trackingNumber: "771234567890",
      estimatedDelivery: "2025-01-18",
    });
    expect(email.subject).toBe("Smith & <Sons>: your order has shipped");
    expect(email.text).toContain("Track your package: https://www.fedex.com/fedextrack/?trknbr=771234567890");
    expect(email.text).toContain("Estimated delivery: 2025-01-18");
    expect(email.html).toContain('<a href="https://www.fedex.com/fedextrack/?trknbr=771234567890">');
    expect(email.html).toContain("Smith &amp; &lt;Sons&gt;");
    expect(email.html).not.toContain("<Sons>");
  });

  it.each(TEMPLATE_KINDS)("%s names the clinic and no medication", (kind) => {
    const email = renderEmail({ kind, clinicName: "Sunrise Clinic", clinicPhone: null });
    expect(email.subject).toContain("Sunrise Clinic");
    for (const medication of MEDICATIONS)
      expect(`${email.subject}${email.text}${email.html}`).not.toContain(medication);
  });
});
