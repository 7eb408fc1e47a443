import "swagger-ui-dist/swagger-ui.css";
import "./docs.css";
import SwaggerUI from "swagger-ui-dist/swagger-ui-es-bundle.js";

interface SwaggerSystem {
  React: {
    createElement: (
      type: unknown,
      props: Record<string, unknown> | null,
      ...children: unknown[]
    ) => unknown;
  };
}

/**
 * Swagger UI renders the servers <select id="servers"> with no label (axe: select-name). A plugin
 * (Swagger UI's own extension API) wraps its Servers component with a label for it.
 */
const serversLabel = () => ({
  wrapComponents: {
    Servers: (Original: unknown, system: SwaggerSystem) => (props: Record<string, unknown>) =>
      system.React.createElement(
        "div",
        null,
        system.React.createElement(
          "label",
          { htmlFor: "servers", className: "berth-visually-hidden" },
          "Server",
        ),
        system.React.createElement(Original, props),
      ),
  },
});

// The API reference at /docs: Swagger UI (bundled at build time, nothing fetched from elsewhere)
// rendering the gateway's own /openapi.json. "Authorize" takes an API key as the bearer token.
// deepLinking stays off: it turns each operation's path into a link inside the operation's
// expand button, a focusable control inside another (axe: nested-interactive).
SwaggerUI({
  url: "/openapi.json",
  dom_id: "#docs",
  deepLinking: false,
  tryItOutEnabled: false,
  validatorUrl: "none",
  plugins: [serversLabel],
});
