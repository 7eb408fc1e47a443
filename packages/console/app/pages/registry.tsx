import type { ReactNode } from "react";
import type { Route } from "../router";
import { ApiKeysPage } from "./api-keys";
import { AuditPage } from "./audit";
import { CatalogPage } from "./catalog";
import { DeadLettersPage } from "./dead-letters";
import { InstanceDetailPage } from "./instance-detail";
import { InstancesPage } from "./instances";
import { VirtualServersRoute } from "./virtual-servers";

/** One page of the console: its route (`#/<id>/…`), its title in the navigation, its content. */
export interface ConsolePage {
  readonly id: string;
  readonly title: string;
  readonly render: (route: Route) => ReactNode;
}

/**
 * The console's pages, in navigation order. The extension point for new areas (virtual servers,
 * the audit trail, metrics): write a page component in pages/ and add a row here; the navigation
 * and the router pick it up.
 */
export const PAGES: readonly ConsolePage[] = [
  {
    id: "instances",
    title: "Instances",
    render: (route) =>
      route.params[0] ? <InstanceDetailPage id={route.params[0]} /> : <InstancesPage />,
  },
  {
    id: "virtual-servers",
    title: "Virtual servers",
    render: (route) => <VirtualServersRoute param={route.params[0]} />,
  },
  { id: "catalog", title: "Catalog", render: () => <CatalogPage /> },
  { id: "keys", title: "API keys", render: () => <ApiKeysPage /> },
  { id: "audit", title: "Audit trail", render: () => <AuditPage /> },
  { id: "dead-letters", title: "Dead letters", render: () => <DeadLettersPage /> },
];
