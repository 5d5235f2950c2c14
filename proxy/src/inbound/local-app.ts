/** Where inbound traffic goes: the app beside this proxy. */
export interface LocalApp {
  address: string;
  port: number;
}

/** The `cluster` label inbound metrics use for the local app. */
export const LOCAL_APP_CLUSTER = 'local_app';
/** The `listener` label of the inbound listener. */
export const INBOUND_LISTENER = 'inbound';
