// Starts Swagger UI on the API's own OpenAPI document. Written for this project (not part of
// swagger-ui-dist); kept out of index.html so the page needs no inline script.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    // Relative to /api/docs/, i.e. /api/openapi.json on this server (and under any proxy prefix).
    url: "../openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // No online validator badge: the page must work without internet access.
    validatorUrl: null,
    // The API key entered under "Authorize" stays in memory only (not in localStorage).
    persistAuthorization: false,
    displayRequestDuration: true,
    tryItOutEnabled: false,
    filter: true
  });
});
