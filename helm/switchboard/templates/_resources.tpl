{{/*
The kinds every service has in the same shape, each rendered from a component context
(dict "root" $ "name" "gateway" "values" .Values.gateway). templates/<component>/<kind>.yaml
says which of them a component gets and when.
*/}}

{{- define "switchboard.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "switchboard.componentName" . }}
  labels:
    {{- include "switchboard.componentLabels" . | nindent 4 }}
  {{- with .values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .values.service.type }}
  selector:
    {{- include "switchboard.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .values.service.port }}
      targetPort: http
      protocol: TCP
    # /metrics (METRICS_PORT), for the ServiceMonitor; the Ingress routes only `http`.
    - name: metrics
      port: {{ .root.Values.metrics.port }}
      targetPort: metrics
      protocol: TCP
{{- end -}}

{{- define "switchboard.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "switchboard.componentName" . }}
  labels:
    {{- include "switchboard.componentLabels" . | nindent 4 }}
spec:
  # One pod at a time: an evicted pod drains, and its work moves to the others.
  maxUnavailable: {{ .values.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "switchboard.selectorLabels" . | nindent 6 }}
{{- end -}}

{{- define "switchboard.hpa" -}}
{{- $a := .values.autoscaling -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "switchboard.componentName" . }}
  labels:
    {{- include "switchboard.componentLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "switchboard.componentName" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- with $a.connectionsPerPod }}
    {{- if .enabled }}
    # Open connections per pod from the custom metrics API (e.g. prometheus-adapter
    # serving sum by (pod) (switchboard_connections)); docs/OPERATIONS.md has the rule.
    - type: Pods
      pods:
        metric:
          name: {{ .metricName }}
        target:
          type: AverageValue
          averageValue: {{ .averageValue | int64 | quote }}
    {{- end }}
    {{- end }}
  {{- with $a.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "switchboard.ingress" -}}
{{- $ctx := . -}}
{{- $i := .values.ingress -}}
{{- if not $i.hosts -}}
{{- fail (printf "the %s ingress needs at least one host (ingress.hosts)" .name) -}}
{{- end -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "switchboard.componentName" . }}
  labels:
    {{- include "switchboard.componentLabels" . | nindent 4 }}
  {{- with $i.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $i.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- with $i.tls }}
  tls:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    {{- range $host := $i.hosts }}
    - host: {{ $host | quote }}
      http:
        paths:
          {{- range $path := $i.paths }}
          - path: {{ $path }}
            pathType: Prefix
            backend:
              service:
                name: {{ include "switchboard.componentName" $ctx }}
                port:
                  name: http
          {{- end }}
    {{- end }}
{{- end -}}

{{/* A NetworkPolicy peer: this release's pods (the helm test pod). */}}
{{- define "switchboard.releasePeer" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/name: {{ include "switchboard.name" . }}
      app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "switchboard.networkPolicy" -}}
{{- $np := .root.Values.networkPolicy -}}
{{- $from := .values.networkPolicy.from -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "switchboard.componentName" . }}
  labels:
    {{- include "switchboard.componentLabels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "switchboard.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    {{- if $np.egress.enabled }}
    - Egress
    {{- end }}
  ingress:
    - ports:
        - port: http
          protocol: TCP
      {{- if $from }}
      from:
        {{- toYaml $from | nindent 8 }}
        {{- include "switchboard.releasePeer" .root | nindent 8 }}
      {{- end }}
    # /metrics: metricsFrom alone when given, else the peers of the HTTP port.
    - ports:
        - port: metrics
          protocol: TCP
      {{- if $np.metricsFrom }}
      from:
        {{- toYaml $np.metricsFrom | nindent 8 }}
      {{- else if $from }}
      from:
        {{- toYaml $from | nindent 8 }}
        {{- include "switchboard.releasePeer" .root | nindent 8 }}
      {{- end }}
  {{- if $np.egress.enabled }}
  egress:
    # DNS
    - ports:
        - { port: 53, protocol: UDP }
        - { port: 53, protocol: TCP }
    - ports:
        - { port: {{ $np.egress.natsPort }}, protocol: TCP }
        - { port: {{ $np.egress.redisPort }}, protocol: TCP }
    {{- with .extraEgressPorts }}
    - ports:
        {{- range . }}
        - { port: {{ . }}, protocol: TCP }
        {{- end }}
    {{- end }}
    {{- with $np.egress.extra }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end -}}
