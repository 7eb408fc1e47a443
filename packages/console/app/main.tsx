import "@radix-ui/themes/styles.css";
import "./console.css";
import { Theme } from "@radix-ui/themes";
import { setNonce } from "get-nonce";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app";

// The gateway puts a fresh nonce in each page it serves (and in its Content-Security-Policy):
// the style elements libraries create at run time (scroll locking) carry it.
const nonce = document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content;
if (nonce) setNonce(nonce);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <Theme accentColor="indigo" grayColor="slate" radius="medium">
      <App />
    </Theme>
  </StrictMode>,
);
