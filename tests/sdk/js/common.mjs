// What every scenario shares: its environment, a server client and step logs.
import { PipedreamClient } from "@pipedream/sdk";

export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};

/// The official client with the project's server credentials.
export const serverClient = (projectEnvironment) =>
  new PipedreamClient({
    baseUrl: env("SB_BASE_URL"),
    projectId: env("SB_PROJECT_ID"),
    projectEnvironment,
    clientId: env("SB_CLIENT_ID"),
    clientSecret: env("SB_CLIENT_SECRET"),
  });

export const stepper = (prefix) => (name) => console.log(`${prefix}: ${name}`);
