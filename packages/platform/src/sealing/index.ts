export { type KeyRing, keyRingVar, parseKeyRing, type SecretKey } from "./key-ring.js";
export { openValue, type SealedValue, sealValue } from "./sealed-box.js";
