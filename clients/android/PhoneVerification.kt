// Phone verification client for Android (Kotlin, minSdk 26): the two API calls
// with OkHttp and org.json, and the SMS Retriever API, which reads the code
// from the SMS without the SMS permission.
//
// Gradle: implementation("com.squareup.okhttp3:okhttp:4.12.0")
//         implementation("com.google.android.gms:play-services-auth-api-phone:18.1.0")
//         implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.8.1")
//         implementation("androidx.core:core-ktx:1.13.1")
//
// The SMS Retriever hands your app only an SMS that carries your app's
// 11-character hash. Compute it once per signing key (the Play App Signing key
// for store builds, your debug key for debug builds; they differ):
//   keytool -exportcert -alias KEY -keystore KEYSTORE | xxd -p | tr -d "[:space:]" |
//     (printf 'com.example.app '; cat) | sha256sum | tr -d "[:space:]-" | xxd -r -p | base64 | cut -c1-11
// and give it to the API: ANDROID_APP_HASH=FA+9qCX9VSu (in SETTINGS). The SMS
// then reads, within the one SMS segment (140 bytes) the Retriever requires:
//   Your Acme verification code is 123456.
//   FA+9qCX9VSu
//
//   @example.com #123456          <- only with AUTOFILL_DOMAIN (iOS, WebOTP)
package com.example.phoneverification

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import androidx.core.content.ContextCompat
import androidx.core.os.BundleCompat
import com.google.android.gms.auth.api.phone.SmsRetriever
import com.google.android.gms.common.api.CommonStatusCodes
import com.google.android.gms.common.api.Status
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import okhttp3.MediaType.Companion.toMediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import org.json.JSONException
import org.json.JSONObject
import java.io.IOException
import java.time.Instant
import java.util.Locale

/** 200 {"result": {...}} of sendVerificationCode. */
data class PendingVerification(
    val phoneNumber: String, // E.164, as the API normalized it: verify with this one
    val channel: String, // "sms", "call" or "whatsapp"
    val expiresAt: Instant,
    val resendAvailableAt: Instant, // show a countdown; "Resend" before it gets resend_too_soon
    val attemptsRemaining: Int,
    val deliveryUnconfirmed: Boolean, // the provider answered late: the code is probably on its way
)

/** 200 {"result": {...}} of verifyPhoneNumber; send [token] to your backend, which checks it. */
data class ApprovedVerification(val phoneNumber: String, val verifiedAt: Instant, val token: String?)

/** A failure: {code, error, reason, attemptsRemaining?, retryAfter?, parameter?}. */
class VerificationException(
    val httpStatus: Int,
    val reason: String, // stable and machine-readable: branch on this
    message: String, // the API's human message, fit to show
    val attemptsRemaining: Int?,
    val retryAfterSeconds: Long?, // Retry-After header, else the body's retryAfter
    val parameter: String?,
) : Exception(message)

class PhoneVerificationClient(
    apiBase: String, // the stack's ApiUrl output, e.g. https://abc123.execute-api.us-east-1.amazonaws.com
    private val http: OkHttpClient = OkHttpClient(),
) {
    private val base = apiBase.trimEnd('/')

    /** A resend is the same call, and may switch channel ("call" when no SMS came). */
    suspend fun sendCode(
        phoneNumber: String,
        channel: String = "sms",
        locale: String = Locale.getDefault().toLanguageTag(),
    ): PendingVerification {
        val r = call("sendVerificationCode", mapOf("phoneNumber" to phoneNumber, "channel" to channel, "locale" to locale))
        return PendingVerification(
            phoneNumber = r.getString("phoneNumber"),
            channel = r.getString("channel"),
            expiresAt = Instant.parse(r.getString("expiresAt")),
            resendAvailableAt = Instant.parse(r.getString("resendAvailableAt")),
            attemptsRemaining = r.getInt("attemptsRemaining"),
            deliveryUnconfirmed = r.optString("delivery") == "unconfirmed",
        )
    }

    suspend fun verify(phoneNumber: String, code: String): ApprovedVerification {
        val r = call("verifyPhoneNumber", mapOf("phoneNumber" to phoneNumber, "phoneVerificationCode" to code))
        return ApprovedVerification(
            phoneNumber = r.getString("phoneNumber"),
            verifiedAt = Instant.parse(r.getString("verifiedAt")),
            token = if (r.has("token")) r.getString("token") else null,
        )
    }

    /** POST {base}/functions/NAME; the `result`, or throws VerificationException (IOException when offline). */
    private suspend fun call(function: String, params: Map<String, String>): JSONObject = withContext(Dispatchers.IO) {
        val request = Request.Builder()
            .url("$base/functions/$function")
            .post(JSONObject(params).toString().toRequestBody("application/json".toMediaType()))
            .build()
        http.newCall(request).execute().use { response ->
            val json = try {
                JSONObject(response.body?.string().orEmpty())
            } catch (e: JSONException) {
                throw IOException("not the API's answer (HTTP ${response.code})", e)
            }
            if (response.isSuccessful) return@withContext json.getJSONObject("result")
            throw VerificationException(
                httpStatus = response.code,
                reason = json.optString("reason", "unknown"),
                message = json.optString("error", "HTTP ${response.code}"),
                attemptsRemaining = if (json.has("attemptsRemaining")) json.getInt("attemptsRemaining") else null,
                retryAfterSeconds = response.header("Retry-After")?.toLongOrNull()
                    ?: if (json.has("retryAfter")) json.getLong("retryAfter") else null,
                parameter = if (json.has("parameter")) json.getString("parameter") else null,
            )
        }
    }
}

/**
 * SMS Retriever: call [start] right before sendCode; [onCode] gets the code of
 * the SMS carrying this app's hash, within 5 minutes ([onTimeout] otherwise:
 * let the user type it). [stop] when the screen goes away.
 */
class SmsCodeRetriever(
    private val context: Context,
    private val codeLength: Int = 6, // the API's CODE_LENGTH
    private val onCode: (String) -> Unit,
    private val onTimeout: () -> Unit = {},
) : BroadcastReceiver() {
    fun start() {
        // Play services broadcasts from outside the app: exported, but only to its permission.
        ContextCompat.registerReceiver(
            context, this, IntentFilter(SmsRetriever.SMS_RETRIEVED_ACTION),
            SmsRetriever.SEND_PERMISSION, null, ContextCompat.RECEIVER_EXPORTED,
        )
        SmsRetriever.getClient(context).startSmsRetriever()
            .addOnFailureListener { onTimeout() } // no Play services: the user types the code
    }

    fun stop() = runCatching { context.unregisterReceiver(this) }

    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != SmsRetriever.SMS_RETRIEVED_ACTION) return
        val extras = intent.extras ?: return
        when (BundleCompat.getParcelable(extras, SmsRetriever.EXTRA_STATUS, Status::class.java)?.statusCode) {
            CommonStatusCodes.SUCCESS -> {
                val sms = extras.getString(SmsRetriever.EXTRA_SMS_MESSAGE).orEmpty()
                // The text comes first and holds the code; the hash line may hold digits too.
                Regex("(?<!\\d)\\d{$codeLength}(?!\\d)").find(sms)?.value?.let(onCode) ?: onTimeout()
            }
            CommonStatusCodes.TIMEOUT -> onTimeout()
        }
    }
}

/*
 * In a ViewModel, on the user's actions:
 *
 *   retriever.start()
 *   try {
 *       pending = client.sendCode(phoneNumber, channel)
 *       showCodeScreen(pending)            // countdown to pending.resendAvailableAt
 *   } catch (e: VerificationException) { handle(e) } catch (e: IOException) { showOffline() }
 *
 *   // from the retriever's onCode, or the user's input (EditText with
 *   // android:inputType="number" android:autofillHints="smsOTPCode")
 *   try {
 *       val approved = client.verify(pending.phoneNumber, code)
 *       backend.linkPhone(approved.token)    // the backend checks the token against the JWKS
 *   } catch (e: VerificationException) { handle(e) }
 *
 *   fun handle(e: VerificationException) = when (e.reason) {
 *       "incorrect_code" -> showError("${e.message} ${e.attemptsRemaining} attempts left")
 *       "code_replaced" -> showError("A newer code was sent: type that one")
 *       "max_attempts_reached", "no_pending_verification", "code_already_used" -> offerNewCode()
 *       "phone_number_missing_country_code", "invalid_phone_number", "recipient_invalid" -> editNumber(e.message)
 *       "number_cannot_receive_sms", "recipient_cannot_receive", "channel_disabled" -> offerCall()
 *       else -> if (e.retryAfterSeconds != null) waitThenRetry(e.retryAfterSeconds) else showError(e.message)
 *   }
 */
