/** The channels a patient is told on (a leaf: the config, the outbox SQL and the queues all name them). */
export const CHANNELS = ["sms", "email"] as const;
export type Channel = (typeof CHANNELS)[number];
