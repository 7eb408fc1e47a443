// What the gateway needs of the console: the built bundle. The app itself (app/) and its
// form logic (src/forms/) are bundled by Vite and are not imported by Node code.
export {
  CONSOLE_DIST,
  type ConsoleBundle,
  type ConsoleFile,
  loadConsoleBundle,
} from "./bundle.js";
export { CONSOLE_CLIENT_ID, consoleRedirectUri } from "./oauth-client.js";
