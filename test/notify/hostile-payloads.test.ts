import { describe, expect, it } from "vitest";
import { segmentCount } from "../../src/notify/sms-encoding";
import { renderEmail, renderSms, TEMPLATE_KINDS } from "../../src/notify/templates";
import { deliveryDateOf, normalizeCarrier, shipmentOf } from "../../src/notify/tracking";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { applyAndCaptureJobs, createPatient, mockProviders, runSender } from "../helpers/notifications";

const server = useMockNetwork();

/** Words the sender of a payload chose that must never reach a patient. */
const HOSTILE_WORDS = ["evil", "Billing", "Customs", "pay at", "Pay now", "bit.ly", "<script", "javascript:"];

const HOSTILE_CARRIERS = [
  "Billing",
  "UPS - call +1 900 555 0100 to avoid a fee",
  "https://evil.example/ups",
  "<script>alert(1)</script>",
  "Customs Department",
  "U".repeat(5000),
  "",
];
const HOSTILE_NUMBERS = [
  "Customs fee unpaid - pay at https://evil.example/p",
  "https://evil.example/p",
  "1Z999AA10123456784 pay at evil.example",
  "bit.ly/evil",
  "javascript:alert(1)",
  "9".repeat(41),
  "🙂".repeat(200),
];
const HOSTILE_DATES = [
  "Pay now at https://evil.example",
  "2026-02-30",
  "tomorrow",
  "2026-01-17<script>",
  "9".repeat(500),
];
const CLINIC_NAMES = ["Sunrise Clinic", "Клиника Восход и партнёры — семейная медицина 🙂".repeat(3), "A".repeat(400)];

function expectNothingHostile(text: string) {
  for (const word of HOSTILE_WORDS) expect(text).not.toContain(word);
}

describe("carriers and tracking numbers are checked, never copied", () => {
  it.each([
    ["UPS", "UPS"],
    ["ups ", "UPS"],
    ["United Parcel Service", "UPS"],
    ["Federal Express", "FedEx"],
    ["FedEx Ground", "FedEx"],
    ["U.S. Postal Service", "USPS"],
    ["DHL eCommerce", "DHL"],
    ["LaserShip", "OnTrac"],
    ["OnTrac", "OnTrac"],
    ["Billing", null],
    ["Amazon Logistics", null],
    ["UPS - call us", null],
  ])("%j → %s", (name, carrier) => {
    expect(normalizeCarrier(name)).toBe(carrier);
  });

  it.each([
    ["UPS", "1Z 999 AA1 01 2345 6784", "1Z999AA10123456784"],
    ["FedEx", "7712-3456-7890", "771234567890"],
    ["USPS", "9400 1118 9922 3856 9284 96", "9400111899223856928496"],
    ["USPS", "ea123456789us", "EA123456789US"],
    ["DHL", "1234567890", "1234567890"],
    ["OnTrac", "C11234567890123", "C11234567890123"],
  ])("%s shows %j as %s with the carrier's own page", (carrier, number, shown) => {
    const shipment = shipmentOf(carrier, number);
    expect(shipment.trackingNumber).toBe(shown);
    expect(shipment.trackingUrl).toContain(shown);
    expect(new URL(shipment.trackingUrl!).hostname).toMatch(/(ups|fedex|usps|dhl|ontrac)\.com$/);
  });

  it("a number of another carrier's format, or of an unknown carrier, is not shown", () => {
    expect(shipmentOf("FedEx", "1Z999AA10123456784")).toEqual({
      carrier: "FedEx",
      trackingNumber: null,
      trackingUrl: null,
    });
    expect(shipmentOf("Pigeon Post", "1Z999AA10123456784")).toEqual({
      carrier: null,
      trackingNumber: null,
      trackingUrl: null,
    });
  });

  it.each(HOSTILE_NUMBERS)("tracking number %j is never shown", (number) => {
    for (const carrier of ["UPS", "FedEx", "USPS", "DHL", "OnTrac"])
      expect(shipmentOf(carrier, number)).toMatchObject({ trackingNumber: null, trackingUrl: null });
  });

  it("an estimated delivery is shown only as a real calendar date", () => {
    expect(deliveryDateOf("2026-01-17")).toBe("2026-01-17");
    expect(deliveryDateOf("2026-01-17T12:00:00Z")).toBe("2026-01-17");
    for (const value of HOSTILE_DATES) expect(deliveryDateOf(value)).toBeNull();
  });
});

describe("nothing the sender of a payload writes reaches the patient", () => {
  it("every template, with hostile values in every payload field, names none of them and stays within two segments", () => {
    const check = (context: Parameters<typeof renderSms>[0]) => {
      const sms = renderSms(context);
      expect(segmentCount(sms)).toBeLessThanOrEqual(2);
      expectNothingHostile(sms);
      const email = renderEmail(context);
      expectNothingHostile(`${email.subject}\n${email.text}\n${email.html}`);
    };
    // Every kind with every hostile value of each field (the others hostile too)...
    const rows = Math.max(HOSTILE_CARRIERS.length, HOSTILE_NUMBERS.length, HOSTILE_DATES.length);
    for (const kind of [...TEMPLATE_KINDS, "medication_request_approved"])
      for (const clinicName of CLINIC_NAMES)
        for (let row = 0; row < rows; row += 1)
          check({
            kind,
            clinicName,
            clinicPhone: "+14155550100",
            carrier: HOSTILE_CARRIERS[row % HOSTILE_CARRIERS.length],
            trackingNumber: HOSTILE_NUMBERS[row % HOSTILE_NUMBERS.length],
            estimatedDelivery: HOSTILE_DATES[row % HOSTILE_DATES.length],
          });
    // ...and the shipped message, the one that prints them, with every pairing of carrier and number.
    for (const carrier of [...HOSTILE_CARRIERS, "UPS", "USPS"])
      for (const trackingNumber of HOSTILE_NUMBERS)
        check({ kind: "order_shipped", clinicName: "Sunrise Clinic", clinicPhone: null, carrier, trackingNumber });
  });

  it("the issue's example, end to end: the SMS and email say the order shipped, and nothing else of it", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const event = makeEvent("order:shipped", {
      data: {
        order_id: uniqueId("ord"),
        patient_id: patientId,
        carrier: "Billing",
        tracking_number: "Customs fee unpaid - pay at https://evil.example/p",
        estimated_delivery: "Pay now at https://evil.example",
      },
    });
    await runSender(await applyAndCaptureJobs([event]));
    expect(providers.sms.map((sms) => sms.body)).toEqual([
      "Sunrise Clinic: your order has shipped. Reply STOP to opt out.",
    ]);
    const [email] = providers.emails;
    expect(email!.body.text).toContain("Your order has shipped.");
    expectNothingHostile(JSON.stringify(email!.body));
  });
});
