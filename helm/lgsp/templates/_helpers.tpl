{{/* Names, labels and the pieces every workload shares. */}}

{{- define "lgsp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lgsp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Object name of one component: (dict "root" $ "component" "gateway") */}}
{{- define "lgsp.componentName" -}}
{{- printf "%s-%s" (include "lgsp.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lgsp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "gateway") */}}
{{- define "lgsp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lgsp.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All labels of one component's objects. */}}
{{- define "lgsp.labels" -}}
helm.sh/chart: {{ include "lgsp.chart" .root }}
{{ include "lgsp.selectorLabels" . }}
app.kubernetes.io/version: {{ include "lgsp.imageTag" .root | quote }}
app.kubernetes.io/part-of: lgsp
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "lgsp.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "lgsp.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "lgsp.imageTag" .) -}}
{{- end -}}

{{- define "lgsp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lgsp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Where the chart mounts things inside every container. */}}
{{- define "lgsp.configDir" -}}/etc/lgsp/config{{- end -}}
{{/* The gateway's bulk-job store: its volume, and the file in it (batches.sqlite_path). */}}
{{- define "lgsp.batchesDir" -}}/var/lib/lgsp/batches{{- end -}}
{{- define "lgsp.batchesSqlitePath" -}}{{ include "lgsp.batchesDir" . }}/batches.db{{- end -}}
{{/* The gateway pod's copy of the changes topic: its emptyDir, and the file in it
(changes.sqlite_path). */}}
{{- define "lgsp.changesDir" -}}/var/lib/lgsp/changes{{- end -}}
{{- define "lgsp.changesSqlitePath" -}}{{ include "lgsp.changesDir" . }}/changes.db{{- end -}}
{{/* The gateway's procedure store without a cluster: its volume, and the file in it
(procedures.sqlite_path). */}}
{{- define "lgsp.proceduresDir" -}}/var/lib/lgsp/procedures{{- end -}}
{{- define "lgsp.proceduresSqlitePath" -}}{{ include "lgsp.proceduresDir" . }}/procedures.db{{- end -}}
{{/* An upstream connector's change outbox (upstream.change_outbox): its volume's mount. */}}
{{- define "lgsp.changeOutboxDir" -}}/var/lib/lgsp/change-outbox{{- end -}}
{{/* Partners' webhook Secrets in the gateway pods: <dir>/<index in partners>/<key>. */}}
{{- define "lgsp.webhookDir" -}}/etc/lgsp/webhooks{{- end -}}

{{/*
The `kafka:` section shared by every process's config. TLS to the brokers sets
security.protocol (SSL unless kafka.properties names one) and the ssl.*.location properties
pointing at the mounted Secret; without TLS the render fails unless kafka.allowPlaintext.
*/}}
{{- define "lgsp.kafkaConfig" -}}
{{- $k := .Values.kafka -}}
{{- $props := deepCopy $k.properties -}}
{{- if and (not $k.tls.enabled) (not $k.allowPlaintext) -}}
{{- fail "kafka.tls.enabled is false: lgsp refuses to reach a Kafka cluster without TLS (requests, replies and audit events carry personal data). Enable kafka.tls, or set kafka.allowPlaintext: true only where the network itself is encrypted" -}}
{{- end -}}
{{- if $k.tls.enabled -}}
{{- /* TLS on the wire, not only certificates on disk: SSL unless SASL over TLS was chosen. */ -}}
{{- if not (hasKey $props "security.protocol") -}}
{{- $_ := set $props "security.protocol" "SSL" -}}
{{- end -}}
{{- $_ := set $props "ssl.ca.location" (printf "/etc/lgsp/kafka-tls/%s" $k.tls.caKey) -}}
{{- if $k.tls.certKey -}}
{{- $_ := set $props "ssl.certificate.location" (printf "/etc/lgsp/kafka-tls/%s" $k.tls.certKey) -}}
{{- $_ := set $props "ssl.key.location" (printf "/etc/lgsp/kafka-tls/%s" $k.tls.keyKey) -}}
{{- end -}}
{{- end -}}
kafka:
  bootstrap: {{ required "kafka.bootstrap is required: the brokers' host:port list" $k.bootstrap | toJson }}
  topic_prefix: {{ $k.topicPrefix | toJson }}
  request_partitions: {{ $k.requestPartitions | int64 }}
  reply_partitions: {{ $k.replyPartitions | int64 }}
  properties: {{- if $props }}{{ toYaml $props | nindent 4 }}{{ else }} {}{{ end }}
  producer_properties: {{- if $k.producerProperties }}{{ toYaml $k.producerProperties | nindent 4 }}{{ else }} {}{{ end }}
  consumer_properties: {{- if $k.consumerProperties }}{{ toYaml $k.consumerProperties | nindent 4 }}{{ else }} {}{{ end }}
  allow_plaintext: {{ and (not $k.tls.enabled) $k.allowPlaintext }}
  {{- if $k.envelopeKeys.secretPrefix }}
  envelope_keys_dir: /etc/lgsp/bus-keys
  envelope_seal_keys: {{- if $k.envelopeKeys.sealWith }}{{ toYaml $k.envelopeKeys.sealWith | nindent 4 }}{{ else }} {}{{ end }}
  {{- else if $k.allowUnsealed }}
  allow_unsealed: true
  {{- else }}
  {{- fail "kafka.envelopeKeys.secretPrefix is empty: lgsp refuses to send envelopes unsealed to a Kafka cluster (its operators and topic writers could read and forge them). Create the key Secrets (docs/deploy.md), or set kafka.allowUnsealed: true only where every reader and writer of the topics is trusted" }}
  {{- end }}
{{- end -}}

{{/*
One registry's entry under `registries:` (docs/configuration.md#registries):
(dict "root" $ "reg" NAME "c" CONNECTOR_VALUES "gateway" BOOL). The connector's own file has
all of it. The gateway's copy (only with procedures, for the registries their steps name)
tells lgsp which backend applies the registry's commands, which it checks at start; the
gateway never opens a registry, so its copy leaves out how to reach one (certificates,
token, outbox), which only the connector's pod mounts. Never a postgres registry there: the
chart refuses a procedure step on one (configmap.yaml).
*/}}
{{- define "lgsp.registryConfig" -}}
{{- $reg := .reg -}}
{{- $c := .c -}}
{{ $reg }}:
  backend: {{ $c.backend }}
  {{- if eq $c.backend "postgres" }}
  postgres_dsn_file: {{ printf "/etc/lgsp/registry-db/%s" $c.postgres.key | toJson }}
  pool_size: {{ $c.postgres.poolSize | int64 }}
  {{- else if eq $c.backend "upstream" }}
  {{- $u := $c.upstream }}
  upstream:
    base_url: {{ required (printf "connectors.%s.upstream.baseUrl is required with backend upstream" $reg) $u.baseUrl | toJson }}
    {{- if not .gateway }}
    {{- if $u.tlsSecret }}
    ca_file: /etc/lgsp/upstream-tls/ca.crt
    {{- if $u.clientCertificate }}
    cert_file: /etc/lgsp/upstream-tls/tls.crt
    key_file: /etc/lgsp/upstream-tls/tls.key
    {{- end }}
    {{- end }}
    {{- if $u.tokenSecret }}
    bearer_token_env: LGSP_UPSTREAM_TOKEN
    {{- end }}
    {{- end }}
    timeout_ms: {{ $u.timeoutMs | int64 }}
    max_attempts: {{ $u.maxAttempts | int64 }}
    paths: {{ $u.paths | toJson }}
    {{- with $u.records }}
    records: {{ . | toJson }}
    {{- end }}
    fields: {{ $u.fields | toJson }}
    {{- /* Only civil status's upstream has commands and a change outbox (values.yaml). */}}
    {{- with get $u "commands" }}
    commands: {{ . | toJson }}
    {{- end }}
    {{- if and (dig "changeOutbox" "enabled" false $u) (not .gateway) }}
    change_outbox: {{ printf "%s/%s-changes.db" (include "lgsp.changeOutboxDir" .root) $reg | toJson }}
    {{- end }}
  {{- else }}
  sqlite_path: {{ printf "/var/lib/lgsp/%s/%s" $reg $c.sqlite.file | toJson }}
  {{- end }}
{{- end -}}

{{/*
The envelope keys of the given domains (registries, "audit"), one Secret each, projected
into /etc/lgsp/bus-keys: (dict "root" $ "domains" (list "population" "audit")). Each
process gets only the keys of the domains it talks to.
*/}}
{{- define "lgsp.busKeysVolume" -}}
{{- $e := .root.Values.kafka.envelopeKeys -}}
{{- if $e.secretPrefix }}
- name: bus-keys
  projected:
    defaultMode: 288 # 0440
    sources:
      {{- range .domains }}
      - secret: {name: {{ printf "%s-%s" $e.secretPrefix . }}}
      {{- end }}
{{- end }}
{{- end -}}

{{- define "lgsp.busKeysMount" -}}
{{- if .Values.kafka.envelopeKeys.secretPrefix }}
- {name: bus-keys, mountPath: /etc/lgsp/bus-keys, readOnly: true}
{{- end }}
{{- end -}}

{{/* The domains the gateways seal for: every enabled connector's registry, and audit. */}}
{{- define "lgsp.gatewayKeyDomains" -}}
{{- $domains := list -}}
{{- range $reg, $c := .Values.connectors -}}
{{- if and (kindIs "map" $c) $c.enabled -}}
{{- $domains = append $domains $reg -}}
{{- end -}}
{{- end -}}
{{- if .Values.audit.enabled -}}
{{- $domains = append $domains "audit" -}}
{{- end -}}
{{- toJson $domains -}}
{{- end -}}

{{/*
One claim template of the gateway StatefulSet, a store of each pod's own:
(dict "ctx" (dict "root" $ "component" "gateway") "name" NAME "persistence" {size, storageClass}).
*/}}
{{- define "lgsp.claimTemplate" -}}
- metadata:
    name: {{ .name }}
    labels:
      {{- include "lgsp.selectorLabels" .ctx | nindent 6 }}
  spec:
    accessModes: [ReadWriteOnce]
    {{- with .persistence.storageClass }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests:
        storage: {{ .persistence.size | quote }}
{{- end -}}

{{/* Kafka TLS volume and mount (both empty when kafka.tls is off). */}}
{{- define "lgsp.kafkaTlsVolume" -}}
{{- $t := .Values.kafka.tls -}}
{{- if $t.enabled }}
- name: kafka-tls
  secret:
    secretName: {{ required "kafka.tls.existingSecret is required when kafka.tls.enabled" $t.existingSecret }}
    defaultMode: 288 # 0440: owner and group (fsGroup) read
    items:
      - {key: {{ $t.caKey }}, path: {{ $t.caKey }}}
      {{- if $t.certKey }}
      - {key: {{ $t.certKey }}, path: {{ $t.certKey }}}
      - {key: {{ required "kafka.tls.keyKey is required with kafka.tls.certKey" $t.keyKey }}, path: {{ $t.keyKey }}}
      {{- end }}
{{- end }}
{{- end -}}

{{- define "lgsp.kafkaTlsMount" -}}
{{- if .Values.kafka.tls.enabled }}
- {name: kafka-tls, mountPath: /etc/lgsp/kafka-tls, readOnly: true}
{{- end }}
{{- end -}}

{{/* One Secret key mounted as a file: (dict "name" "audit-db" "secret" S "key" K) */}}
{{- define "lgsp.secretFileVolume" -}}
- name: {{ .name }}
  secret:
    secretName: {{ .secret }}
    defaultMode: 288 # 0440: owner and group (fsGroup) read
    items:
      - {key: {{ .key }}, path: {{ .key }}}
{{- end -}}

{{/* Pod-level settings every workload shares: (dict "root" $ "c" componentValues) */}}
{{- define "lgsp.podCommon" -}}
serviceAccountName: {{ include "lgsp.serviceAccountName" .root }}
automountServiceAccountToken: false
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Probes on the admin port: /readyz (Kafka reachable, positioned or joined), /healthz. */}}
{{- define "lgsp.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: admin}
  periodSeconds: 2
  failureThreshold: 30
readinessProbe:
  httpGet: {path: /readyz, port: admin}
  periodSeconds: 5
  timeoutSeconds: 2
  failureThreshold: 2
livenessProbe:
  httpGet: {path: /healthz, port: admin}
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
{{- end -}}

{{/* checksum/config: pods roll when the rendered configuration changes. */}}
{{- define "lgsp.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end -}}

{{/* The gateways' audit DSN key: required, and never the writer's. */}}
{{- define "lgsp.auditGatewayKey" -}}
{{- $pg := .Values.audit.store.postgres -}}
{{- $key := required "audit.store.postgres.gatewayKey is required: the gateways read the audit chain with a SELECT-only role of their own" $pg.gatewayKey -}}
{{- if eq $key $pg.key -}}
{{- fail "audit.store.postgres.gatewayKey is the writer's key: the gateways must not get the connection that can rewrite the audit chain; give them a SELECT-only role's DSN" -}}
{{- end -}}
{{- $key -}}
{{- end -}}
