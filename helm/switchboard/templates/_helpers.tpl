{{/*
Small helpers shared by the three services. A "component context" is
(dict "root" $ "name" "gateway" "values" .Values.gateway): the component's name as it
appears in resource names and labels, and its values block.
*/}}

{{- define "switchboard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "switchboard.fullname" -}}
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

{{/* `<fullname>-<component>`; component names are short, so the fullname keeps 47 characters. */}}
{{- define "switchboard.componentName" -}}
{{- printf "%s-%s" (include "switchboard.fullname" .root | trunc 47 | trimSuffix "-") .name -}}
{{- end -}}

{{- define "switchboard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "switchboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchboard
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "switchboard.componentLabels" -}}
{{ include "switchboard.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "switchboard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchboard.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "switchboard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "switchboard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* registry/repository:tag, or @digest when a digest pins the image. */}}
{{- define "switchboard.image" -}}
{{- $image := .values.image -}}
{{- $tag := $image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- $repository := printf "%s/%s" .root.Values.image.registry $image.repository | trimPrefix "/" -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Names of the Secrets the chart creates from values. */}}
{{- define "switchboard.backendsSecretName" -}}
{{- printf "%s-backends" (include "switchboard.fullname" . | trunc 54 | trimSuffix "-") -}}
{{- end -}}

{{/*
One env entry read from a Secret: the chart's own (when the value was given in values)
or `existingSecret` (same key). (dict "root" $ "env" "JWT_SECRET" "given" <bool>
"secret" <chart secret name> "optional" <bool>)
*/}}
{{- define "switchboard.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ ternary .secret .root.Values.existingSecret .given }}
      key: {{ .env }}
      {{- if and (not .given) .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/*
Environment of a component: the chart's settings, then `env` and `<component>.env`
(which override them), as one sorted list; then NATS_URL and REDIS_URL from a Secret.
`.extra` holds the component's own settings (name → value; empty values are left out).
*/}}
{{- define "switchboard.env" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $settings := dict
  "PORT" "8080"
  "METRICS_PORT" $v.metrics.port
  "LOG_LEVEL" $v.logLevel
  "DRAIN_SECONDS" .values.drainSeconds
  "STARTUP_TIMEOUT_SECONDS" $v.startupTimeoutSeconds
  "REDIS_KEY_PREFIX" $v.redis.keyPrefix
  "NATS_STREAM_REPLICAS" $v.nats.streamReplicas
  "REDIS_CLUSTER_NODES" (join "," $v.redis.clusterNodes)
  "REDIS_SENTINELS" (join "," $v.redis.sentinels)
  "REDIS_SENTINEL_NAME" $v.redis.sentinelName
  "HISTORY_SIZE" $v.engine.historySize
  "HISTORY_TTL_SECONDS" $v.engine.historyTtlSeconds
  "CHANNEL_META_TTL_SECONDS" $v.engine.channelMetaTtlSeconds
  "IDEMPOTENCY_WINDOW_SECONDS" $v.engine.idempotencyWindowSeconds
  "MAX_MESSAGE_BYTES" $v.engine.maxMessageBytes
  "EVENTS_MAX_AGE_SECONDS" $v.engine.eventsMaxAgeSeconds
-}}
{{- $env := mergeOverwrite $settings .extra $v.env .values.env -}}
{{- range $name := keys $env | sortAlpha }}
{{- $value := index $env $name }}
{{- $text := toString $value }}
{{- /* YAML numbers arrive as float64: 2592000 must not become "2.592e+06". */}}
{{- if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) }}
{{- $text = int64 $value | toString }}
{{- end }}
{{- if ne $text "" }}
- name: {{ $name }}
  value: {{ $text | quote }}
{{- end }}
{{- end }}
{{- if not (hasKey $env "INSTANCE_NAME") }}
# The pod name in NATS and Redis client lists.
- name: INSTANCE_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end }}
{{ include "switchboard.secretEnv" (dict "root" $root "env" "NATS_URL" "given" (ne $v.nats.url "") "secret" (include "switchboard.backendsSecretName" $root)) }}
{{- if or $v.redis.clusterNodes $v.redis.sentinels }}
{{- if or $v.redis.password $v.existingSecret }}
{{ include "switchboard.secretEnv" (dict "root" $root "env" "REDIS_PASSWORD" "given" (ne $v.redis.password "") "optional" true "secret" (include "switchboard.backendsSecretName" $root)) }}
{{- end }}
{{- else }}
{{ include "switchboard.secretEnv" (dict "root" $root "env" "REDIS_URL" "given" (ne $v.redis.url "") "secret" (include "switchboard.backendsSecretName" $root)) }}
{{- end }}
{{- end -}}

{{/* Seconds Kubernetes waits before SIGKILL: preStop, then the drain, then a margin. */}}
{{- define "switchboard.terminationGracePeriodSeconds" -}}
{{- add .values.preStopSleepSeconds .values.drainSeconds .root.Values.terminationGraceMarginSeconds -}}
{{- end -}}

{{/* Pod annotations for a Prometheus that discovers pods by annotation (metrics.scrapeAnnotations). */}}
{{- define "switchboard.scrapeAnnotations" -}}
{{- if .root.Values.metrics.scrapeAnnotations -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .root.Values.metrics.port | quote }}
prometheus.io/path: /metrics
{{- end -}}
{{- end -}}

{{/* Pod metadata and spec lines every Switchboard pod shares (before `containers:`). */}}
{{- define "switchboard.podCommon" -}}
serviceAccountName: {{ include "switchboard.serviceAccountName" .root }}
automountServiceAccountToken: false
enableServiceLinks: false
terminationGracePeriodSeconds: {{ include "switchboard.terminationGracePeriodSeconds" . }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .values.topologySpread.enabled }}
topologySpreadConstraints:
  {{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - topologyKey: {{ $key }}
    maxSkew: {{ $.values.topologySpread.maxSkew }}
    whenUnsatisfiable: {{ $.values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "switchboard.selectorLabels" $ | nindent 8 }}
    # Spread each rollout's pods, not the old and new ReplicaSets together.
    matchLabelKeys: [pod-template-hash]
  {{- end }}
{{- end }}
{{- end -}}

{{/* Container lines every service shares: image, port, probes, preStop, security. */}}
{{- define "switchboard.containerCommon" -}}
image: {{ include "switchboard.image" . }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
ports:
  - name: http
    containerPort: 8080
    protocol: TCP
  - name: metrics
    containerPort: {{ .root.Values.metrics.port }}
    protocol: TCP
startupProbe:
  httpGet: { path: /healthz, port: http }
  periodSeconds: {{ .root.Values.probes.startup.periodSeconds }}
  # Longer than STARTUP_TIMEOUT_SECONDS: a pod that cannot reach NATS or Redis exits with its own message first.
  failureThreshold: {{ div (add .root.Values.startupTimeoutSeconds 30 .root.Values.probes.startup.periodSeconds -1) .root.Values.probes.startup.periodSeconds }}
livenessProbe:
  httpGet: { path: /healthz, port: http }
  periodSeconds: {{ .root.Values.probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .root.Values.probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .root.Values.probes.liveness.failureThreshold }}
readinessProbe:
  httpGet: { path: /readyz, port: http }
  periodSeconds: {{ .root.Values.probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .root.Values.probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .root.Values.probes.readiness.failureThreshold }}
{{- if gt (int .values.preStopSleepSeconds) 0 }}
lifecycle:
  # Keep serving while endpoints and load balancers drop the pod; SIGTERM (and the drain) follows.
  preStop:
    sleep:
      seconds: {{ .values.preStopSleepSeconds }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.containerSecurityContext | nindent 2 }}
resources:
  {{- toYaml .values.resources | nindent 2 }}
{{- end -}}

{{/* Checks that fail the render with a message saying what to set. */}}
{{- define "switchboard.validate" -}}
{{- $v := .Values -}}
{{- if $v.coturn.enabled -}}
{{- if and (not $v.gateway.webrtc.turnSecret) (not $v.existingSecret) -}}
{{- fail "coturn.enabled needs a shared secret: set gateway.webrtc.turnSecret, or existingSecret holding TURN_SECRET (coturn never runs without authentication)" -}}
{{- end -}}
{{- $relay := $v.coturn.relayPorts -}}
{{- if gt (int $relay.min) (int $relay.max) -}}
{{- fail "coturn.relayPorts.min is greater than coturn.relayPorts.max" -}}
{{- end -}}
{{- if gt (sub (int $relay.max) (int $relay.min)) 999 -}}
{{- fail "coturn.relayPorts spans more than 1000 ports: the Service lists each one, and load balancers take far fewer" -}}
{{- end -}}
{{- if and (le (int $relay.min) (int $v.coturn.port)) (le (int $v.coturn.port) (int $relay.max)) -}}
{{- fail "coturn.port lies inside coturn.relayPorts" -}}
{{- end -}}
{{- end -}}
{{- if or $v.gateway.enabled $v.webhookIngest.enabled $v.notifier.enabled -}}
{{- if and (not $v.nats.url) (not $v.existingSecret) -}}
{{- fail "nats.url is empty and there is no existingSecret holding NATS_URL: Switchboard needs NATS with JetStream" -}}
{{- end -}}
{{- $redisModes := 0 -}}
{{- if $v.redis.url }}{{ $redisModes = add1 $redisModes }}{{ end -}}
{{- if $v.redis.clusterNodes }}{{ $redisModes = add1 $redisModes }}{{ end -}}
{{- if $v.redis.sentinels }}{{ $redisModes = add1 $redisModes }}{{ end -}}
{{- if gt (int $redisModes) 1 -}}
{{- fail "set one of redis.url, redis.clusterNodes or redis.sentinels (set redis.url to \"\" when using a Redis Cluster or Sentinel)" -}}
{{- end -}}
{{- if and (eq (int $redisModes) 0) (not $v.existingSecret) -}}
{{- fail "redis.url is empty and there is no existingSecret holding REDIS_URL: Switchboard needs Redis (redis.url, redis.clusterNodes or redis.sentinels)" -}}
{{- end -}}
{{- if and $v.redis.sentinels (not $v.redis.sentinelName) -}}
{{- fail "redis.sentinels needs redis.sentinelName: the master name the sentinels monitor" -}}
{{- end -}}
{{- end -}}
{{- with $v.gateway.auth.jwksUrl -}}
{{- if and (hasPrefix "http:" .) (ne (toString (index $v.gateway.env "JWT_JWKS_ALLOW_HTTP" | default "")) "true") -}}
{{- fail "gateway.auth.jwksUrl must be https: signing keys fetched over http can be replaced on the way (for a development cluster only, set gateway.env.JWT_JWKS_ALLOW_HTTP=\"true\")" -}}
{{- end -}}
{{- if not $v.gateway.auth.audience -}}
{{- fail "gateway.auth.jwksUrl needs gateway.auth.audience: the identity provider signs tokens for other applications too, and only the audience tells them apart" -}}
{{- end -}}
{{- end -}}
{{- if eq (int $v.metrics.port) 8080 -}}
{{- fail "metrics.port must not be 8080, the services' HTTP port" -}}
{{- end -}}
{{- if and $v.gateway.auth.jwtSecret (lt (len $v.gateway.auth.jwtSecret) 32) -}}
{{- fail "gateway.auth.jwtSecret must be at least 32 bytes (HS256)" -}}
{{- end -}}
{{- end -}}

{{/*
The host browsers reach the chart's coturn at: coturn.publicHost, else the public part of
coturn.externalIp, else the in-cluster Service name (reachable from inside the cluster only).
*/}}
{{- define "switchboard.coturnHost" -}}
{{- $c := .Values.coturn -}}
{{- $ip := splitList "/" $c.externalIp | first -}}
{{- coalesce $c.publicHost $ip (printf "%s.%s.svc" (include "switchboard.componentName" (dict "root" . "name" "coturn")) .Release.Namespace) -}}
{{- end -}}
