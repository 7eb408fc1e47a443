import "swagger-ui-dist/swagger-ui.css";
import "./docs.css";
import SwaggerUI from "swagger-ui-dist/swagger-ui-es-bundle.js";

// The API reference at /docs: Swagger UI (bundled at build time, nothing fetched from elsewhere)
// rendering the gateway's own /openapi.json. "Authorize" takes an API key as the bearer token.
SwaggerUI({
  url: "/openapi.json",
  dom_id: "#docs",
  deepLinking: true,
  tryItOutEnabled: false,
  validatorUrl: "none",
});
