{{/* The release's base name: the release, or release-chart when they differ. */}}
{{- define "metamcp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "metamcp.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "metamcp.labels" -}}
{{ include "metamcp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The Secret the pods read: the user's, or the chart's. */}}
{{- define "metamcp.secretName" -}}
{{- default (include "metamcp.fullname" .) .Values.secret.existingSecret -}}
{{- end -}}

{{- define "metamcp.postgresqlName" -}}
{{- printf "%s-postgresql" (include "metamcp.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "metamcp.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The gateway's settings, shared by the migration step and the gateway. */}}
{{- define "metamcp.env" -}}
- name: DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ include "metamcp.secretName" . }}, key: DATABASE_URL}}
- name: JWT_SECRET
  valueFrom: {secretKeyRef: {name: {{ include "metamcp.secretName" . }}, key: JWT_SECRET}}
- name: ENCRYPTION_KEY
  valueFrom: {secretKeyRef: {name: {{ include "metamcp.secretName" . }}, key: ENCRYPTION_KEY}}
- name: METAMCP_DATA_DIR
  value: /var/lib/metamcp
- name: RUST_LOG
  value: {{ .Values.gateway.logLevel | quote }}
{{- end -}}
