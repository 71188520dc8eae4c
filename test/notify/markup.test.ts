import { describe, expect, it } from "vitest";
import { markup } from "../../src/notify/markup";

describe("markup: the one escaper for email HTML and TwiML", () => {
  it("escapes every interpolated value and keeps the template's own markup", () => {
    const hostile = `Smith & <Sons> "quoted" 'single'`;
    expect(markup`<Message>${hostile}</Message>`).toBe(
      "<Message>Smith &amp; &lt;Sons&gt; &quot;quoted&quot; &#39;single&#39;</Message>",
    );
    expect(markup`<a href="${'x" onclick="evil()'}">`).toBe('<a href="x&quot; onclick=&quot;evil()">');
  });

  it("refuses an asynchronous value rather than rendering a Promise", () => {
    expect(() => markup`<p>${Promise.resolve("late")}</p>`).toThrow(TypeError);
  });
});
