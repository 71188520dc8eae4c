/** Public tracking pages of the carriers NovaMed ships with; the number is URL-encoded. */
const TRACKING_URLS: Record<string, (number: string) => string> = {
  ups: (number) => `https://www.ups.com/track?tracknum=${number}`,
  fedex: (number) => `https://www.fedex.com/fedextrack/?trknbr=${number}`,
  usps: (number) => `https://tools.usps.com/go/TrackConfirmAction?tLabels=${number}`,
  dhl: (number) => `https://www.dhl.com/us-en/home/tracking.html?tracking-id=${number}`,
};

/** A tracking link for UPS, FedEx, USPS or DHL (any spelling case); null for other carriers. */
export function trackingUrl(
  carrier: string | null | undefined,
  trackingNumber: string | null | undefined,
): string | null {
  if (!carrier || !trackingNumber) return null;
  const build =
    TRACKING_URLS[
      carrier
        .trim()
        .toLowerCase()
        .replace(/[^a-z]/g, "")
    ];
  return build ? build(encodeURIComponent(trackingNumber.trim())) : null;
}
