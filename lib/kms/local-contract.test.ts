import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeCipherContract } from "./cipher-contract";
import { addKeyVersion, LocalKeyRingCipher, retireKeyVersion } from "./local";

describeCipherContract("local key ring", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "kms-local-contract-"));
  const dataDir = path.join(root, "data");
  return {
    cipher: new LocalKeyRingCipher({ dataDir }),
    rotate: () => addKeyVersion(dataDir),
    retire: (keyVersion) => retireKeyVersion(dataDir, keyVersion),
    cleanup: async () => fs.rmSync(root, { recursive: true, force: true }),
  };
});
