import { describe, expect, it } from "vitest";
import { LOCALES } from "../../src/channels";
import { gsm7Length, segmentCount } from "../../src/notify/sms-encoding";
import { MAX_SMS_SEGMENTS, renderEmail, renderSms, TEMPLATE_KINDS } from "../../src/notify/templates";

const MEDICATIONS = ["Testosterone Cypionate", "Metformin", "Semaglutide", "Canarycillin"];

/** Clinic names at their worst: the profile's 100 characters in GSM-7, in UCS-2 (accents), with emoji, and a longer `CLINIC_NAME`. */
const CLINIC_NAMES = [
  "Sunrise Clinic",
  "Springfield Family Medicine and Wellness Center of the Greater Metropolitan Area, Suite 1200 West!".padEnd(100, "x"),
  "Clínica Médica Familiar de Nuestra Señora de Guadalupe, Atención Integral y Farmacia Comunitaria".padEnd(100, "í"),
  "🌞".repeat(50),
  "W".repeat(300),
];
/** The longest tracking number each carrier's format allows (src/notify/tracking.ts), an unknown carrier, none. */
const SHIPMENTS: { carrier: string | null; trackingNumber: string | null }[] = [
  { carrier: "UPS", trackingNumber: `1Z${"9".repeat(16)}` },
  { carrier: "FedEx", trackingNumber: "1".repeat(22) },
  { carrier: "USPS", trackingNumber: "9".repeat(34) },
  { carrier: "DHL", trackingNumber: `JVGL${"1".repeat(20)}` },
  { carrier: "OnTrac", trackingNumber: `1LS${"A".repeat(16)}` },
  { carrier: "Pigeon Post", trackingNumber: "12345" },
  { carrier: null, trackingNumber: null },
];
const PHONES = [null, "+123456789012345"];
const KINDS = [...TEMPLATE_KINDS, "medication_request_approved"];

/** The opt-out line every SMS ends with: STOP, and in Spanish BAJA too. */
const OPT_OUT = { en: /STOP to opt out\.$/, es: /STOP o BAJA(\.| para no recibir más\.)$/ };

describe("every SMS in English and Spanish, for every carrier and worst-case field length", () => {
  it("stays within 2 segments, ends with its opt-out line, names the clinic and no medication", () => {
    const segments = { en: [0, 0, 0], es: [0, 0, 0] };
    let rendered = 0;
    for (const locale of LOCALES)
      for (const kind of KINDS)
        for (const clinicName of CLINIC_NAMES)
          for (const clinicPhone of PHONES)
            for (const shipment of SHIPMENTS) {
              const text = renderSms({
                kind,
                clinicName,
                clinicPhone,
                ...shipment,
                estimatedDelivery: "2026-01-18",
                locale,
              });
              const count = segmentCount(text);
              expect(count, `${locale} ${kind} ${clinicName.length} ${shipment.carrier}`).toBeLessThanOrEqual(
                MAX_SMS_SEGMENTS,
              );
              segments[locale][count] = (segments[locale][count] ?? 0) + 1;
              expect(text).toMatch(OPT_OUT[locale]);
              expect(text.startsWith([...clinicName].slice(0, 12).join(""))).toBe(true);
              for (const medication of MEDICATIONS) expect(text).not.toContain(medication);
              rendered += 1;
            }
    expect(rendered).toBe(2 * KINDS.length * CLINIC_NAMES.length * PHONES.length * SHIPMENTS.length);
    // Most fit one segment; none needs a third.
    expect(segments.en[1]).toBeGreaterThan(segments.en[2] ?? 0);
  });

  it("counts UCS-2 in UTF-16 units: an emoji takes two of a segment's 70", () => {
    expect(segmentCount("🌞".repeat(35))).toBe(1);
    expect(segmentCount("🌞".repeat(36))).toBe(2);
    expect(segmentCount("á".repeat(70))).toBe(1);
    expect(segmentCount("á".repeat(134))).toBe(2);
    expect(segmentCount("á".repeat(135))).toBe(3);
  });

  it("usual Spanish messages: one GSM-7 segment when no accent forces UCS-2, else two with the link", () => {
    const shipment = { kind: "order_shipped", clinicPhone: "+14155550100", carrier: "UPS", locale: "es" } as const;
    const plain = renderSms({ ...shipment, clinicName: "Sunrise Clinic", trackingNumber: "1Z999AA10123456784" });
    expect(plain).toBe(
      "Sunrise Clinic: pedido enviado. Rastreo: https://www.ups.com/track?tracknum=1Z999AA10123456784 Para salir: STOP o BAJA.",
    );
    expect(segmentCount(plain)).toBe(1);
    const accented = renderSms({ ...shipment, clinicName: "Clínica Sol", trackingNumber: "1Z999AA10123456784" });
    expect(accented).toBe(
      "Clínica Sol: pedido enviado. Rastreo: https://www.ups.com/track?tracknum=1Z999AA10123456784 Para salir: STOP o BAJA.",
    );
    expect(gsm7Length(accented)).toBeNull();
    expect(segmentCount(accented)).toBe(2);
    const delivered = renderSms({
      kind: "order_delivered",
      clinicName: "Sunrise Clinic",
      clinicPhone: null,
      locale: "es",
    });
    expect(delivered).toBe("Sunrise Clinic: su pedido fue entregado. Para salir: STOP o BAJA.");
    expect(segmentCount(delivered)).toBe(1);
    // The richest text when it fits one UCS-2 segment.
    expect(renderSms({ kind: "order_delivered", clinicName: "Clínica Sol", clinicPhone: null, locale: "es" })).toBe(
      "Clínica Sol: su pedido fue entregado. Para salir: STOP o BAJA.",
    );
  });

  it("a clinic name holding a placeholder is shown as written", () => {
    const text = renderSms({ kind: "order_delivered", clinicName: "Clinic {stop}", clinicPhone: null });
    expect(text).toBe("Clinic {stop}: your order was delivered. Reply STOP to opt out.");
  });
});

describe("email in both languages", () => {
  it.each(LOCALES)("%s: every kind has a subject naming the clinic, text and HTML, and lang set", (locale) => {
    for (const kind of KINDS) {
      const email = renderEmail({ kind, clinicName: "Sunrise Clinic", clinicPhone: "+14155550100", locale });
      expect(email.lang).toBe(locale);
      expect(email.html).toContain(`<html lang="${locale}">`);
      expect(email.subject.startsWith("Sunrise Clinic: ")).toBe(true);
      for (const medication of MEDICATIONS)
        expect(`${email.subject}${email.text}${email.html}`).not.toContain(medication);
    }
  });

  it("Spanish shipping email: carrier, number, link and date in Spanish", () => {
    const shipment = { carrier: "FedEx", trackingNumber: "771234567890", estimatedDelivery: "2026-01-18" };
    const email = renderEmail({
      kind: "order_shipped",
      clinicName: "Sunrise Clinic",
      clinicPhone: "+14155550100",
      ...shipment,
      locale: "es",
    });
    expect(email.subject).toBe("Sunrise Clinic: su pedido fue enviado");
    expect(email.text).toBe(
      [
        "Hola:",
        "",
        "Su pedido fue enviado con FedEx.",
        "Número de rastreo: 771234567890",
        "Rastree su paquete: https://www.fedex.com/fedextrack/?trknbr=771234567890",
        "Entrega estimada: 2026-01-18",
        "",
        "¿Preguntas? Llame al +14155550100.",
        "Sunrise Clinic",
      ].join("\n"),
    );
    expect(email.html).toContain('<a href="https://www.fedex.com/fedextrack/?trknbr=771234567890">');
  });
});
