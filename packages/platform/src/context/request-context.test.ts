import { describe, expect, it } from "vitest";
import {
  actorOf,
  currentActor,
  currentCorrelationId,
  withActor,
  withCorrelationId,
} from "./request-context.js";

describe("request context", () => {
  it("carries the actor through async work, inside the request's correlation id", async () => {
    await withCorrelationId("corr-7", () =>
      withActor("0123456789abcdef", async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        expect(currentActor()).toBe("0123456789abcdef");
        expect(currentCorrelationId()).toBe("corr-7");
      }),
    );
    expect(currentActor()).toBeUndefined();
  });

  it("accepts only key ids from the actor header", () => {
    expect(actorOf("0123456789abcdef")).toBe("0123456789abcdef");
    expect(actorOf("berth_0123456789abcdef_secret")).toBeUndefined();
    expect(actorOf("")).toBeUndefined();
    expect(actorOf(null)).toBeUndefined();
  });
});
