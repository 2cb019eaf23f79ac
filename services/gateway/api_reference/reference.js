// Starts Swagger UI on the API reference page (no inline script: the page's CSP allows none).
// A state change sent from "Try it out" carries the CSRF token of its session, as the portal's
// pages do: the staff token on staff routes, the customer's elsewhere.
(function () {
  "use strict";
  function cookie(name) {
    var found = document.cookie.split("; ").find(function (part) {
      return part.indexOf(name + "=") === 0;
    });
    return found ? decodeURIComponent(found.slice(name.length + 1)) : undefined;
  }
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    requestInterceptor: function (request) {
      var staff = new URL(request.url, window.location.href).pathname.indexOf("/api/v1/staff/") === 0;
      var token = cookie(staff ? "ibok_staff_csrf" : "ibok_csrf");
      if (token) {
        request.headers["X-CSRF-Token"] = token;
      }
      return request;
    },
  });
})();
