import { defineConfig } from "vite";

// Served at /console/ by the local gateway and by CloudFront; file names carry a content hash (assets versioned).
export default defineConfig({
  base: "/console/",
  build: {
    outDir: "../build/console",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
  },
});
